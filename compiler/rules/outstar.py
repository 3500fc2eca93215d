"""Outstar rule (Grossberg): active sources pull their outgoing weights toward the target,
ΔU = post ⊗ pre − U·diag(pre); with one-hot winners each column learns its cluster's mean target."""
from ..ops import ActivityDecay, Outer
from . import NUMBER, REF, Rule, register


@register
class Outstar(Rule):
    name = "outstar"
    about = "ΔU = scale·(post⊗pre − U·diag(pre)); post is the target the sources learn to emit"
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}

    def lower(self, params, factors):
        pre = factors.pre(params.get("pre"))
        return {"terms": (Outer(factors.post(params.get("post")), pre, params["scale"]),
                          ActivityDecay(pre, "pre", params["scale"]))}
