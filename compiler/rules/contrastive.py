"""Contrastive rule: ΔW = scale·(post⊗pre at the positive snapshot − post⊗pre at the negative one).

With scale 1/β and snapshots of a nudged and a free phase this is equilibrium propagation; with
clamped and free phases it is contrastive Hebbian learning.
"""
from ..ops import Outer
from . import NUMBER, REF, Rule, register

SNAPSHOT = {"type": "string", "description": "name of a phase snapshot"}


@register
class Contrastive(Rule):
    name = "contrastive"
    about = "ΔW = scale·(post⊗pre @positive − post⊗pre @negative)"
    params = {"positive": SNAPSHOT, "negative": SNAPSHOT, "pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}
    required = ("positive", "negative")

    def lower(self, params, factors):
        terms = []
        for snapshot, sign in ((params["positive"], 1.0), (params["negative"], -1.0)):
            post = factors.post(params.get("post"), snapshot)
            pre = factors.pre(params.get("pre"), snapshot)
            terms.append(Outer(post, pre, sign * params["scale"]))
        return {"terms": tuple(terms)}
