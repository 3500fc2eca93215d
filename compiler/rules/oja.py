"""Oja's rule (subspace form): ΔW = post ⊗ pre − (post ⊗ post)·W."""
from ..ops import OjaDecay, Outer
from . import NUMBER, REF, Rule, register


@register
class Oja(Rule):
    name = "oja"
    about = "ΔW = scale·(post⊗pre − (post⊗post)·W); one neuron converges to the first principal component"
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}

    def lower(self, params, factors):
        post = factors.post(params.get("post"))
        return {"terms": (Outer(post, factors.pre(params.get("pre")), params["scale"]),
                          OjaDecay(post, params["scale"]))}
