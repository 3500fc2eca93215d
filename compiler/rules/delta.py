"""Delta rule (Widrow-Hoff with a derivative): ΔW = ((target − phi(post)) ⊙ phi'(post)) ⊗ pre."""
from ..ops import Combine, Outer
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
        error = Combine("sub", factors.ref(params["target"], "target"), factors.ref(neuron, "post", "phi"))
        post = Combine("mul", error, factors.ref(neuron, "post", "dphi"))
        return {"terms": (Outer(post, factors.pre(params.get("pre")), params["scale"]),)}
