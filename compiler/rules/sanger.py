"""Sanger's rule, the generalised Hebbian algorithm: ΔW = post ⊗ pre − LT(post ⊗ post)·W."""
from ..ops import OjaDecay, Outer
from . import NUMBER, REF, Rule, register


@register
class Sanger(Rule):
    name = "sanger"
    about = ("ΔW = scale·(post⊗pre − LT(post⊗post)·W); unit k converges to the k-th principal component")
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}

    def lower(self, params, factors):
        post = factors.post(params.get("post"))
        return {"terms": (Outer(post, factors.pre(params.get("pre")), params["scale"]),
                          OjaDecay(post, params["scale"], lower=True))}
