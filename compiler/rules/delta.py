"""Delta rule (Widrow-Hoff with a derivative): ΔW = ((target − phi(post)) ⊙ phi'(post)) ⊗ pre."""
from . import NUMBER, REF, Rule, register


@register
class Delta(Rule):
    name = "delta"
    about = "ΔW = scale·((target − post.phi) ⊙ post.dphi)⊗pre, i.e. −∂(½‖post − target‖²)/∂W"
    params = {"target": REF, "pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}
    required = ("target",)

    def lower(self, params, factors):
        neuron = params.get("post") or factors.destination
        names = {"target": factors.ref(params["target"], "target"), "phi": factors.ref(neuron, "post", "phi"),
                 "dphi": factors.ref(neuron, "post", "dphi"), "pre": factors.pre(params.get("pre")),
                 "scale": params["scale"]}
        return factors.equation("scale * outer((target - phi) * dphi, pre)", names)
