"""Competitive (instar) rule: winners move their weights toward the input, ΔW = m ⊗ pre − diag(m)·W."""
from ..ops import ActivityDecay, Outer
from . import NUMBER, REF, Rule, register


@register
class Instar(Rule):
    name = "kwta"
    about = "instar: ΔW = scale·(m⊗pre − diag(m)·W), m = post (the k-WTA winners mask)"
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}
    side = "post"   # whose activity scales the decay: the winners' rows

    def lower(self, params, factors):
        post, pre = factors.post(params.get("post")), factors.pre(params.get("pre"))
        return {"terms": (Outer(post, pre, params["scale"]),
                          ActivityDecay(post if self.side == "post" else pre, self.side, params["scale"]))}
