"""Competitive (instar) rule: winners move their weights toward the input, ΔW = m ⊗ pre − diag(m)·W."""
from ..ops import ActivityDecay, Outer
from . import NUMBER, REF, Rule, register


@register
class Instar(Rule):
    name = "kwta"
    about = "instar: ΔW = scale·(m⊗pre − diag(m)·W), m = post (the k-WTA winners mask)"
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}

    def lower(self, params, factors):
        mask = factors.post(params.get("post"))
        return {"terms": (Outer(mask, factors.pre(params.get("pre")), params["scale"]),
                          ActivityDecay(mask, "post", params["scale"]))}
