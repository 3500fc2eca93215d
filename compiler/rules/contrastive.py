"""Contrastive rule: ΔW = scale·(post⊗pre in the positive phase − post⊗pre in the negative one).

With scale 1/β and snapshots of a nudged and a free phase this is equilibrium propagation; with
clamped and free phases it is contrastive Hebbian learning. When a separate chain of components
computes the negative phase (an RBM's reconstruction, in the same sweep), ``negative_pre`` and
``negative_post`` name its signals: contrastive divergence.
"""
from . import NUMBER, REF, Rule, register

SNAPSHOT = {"type": "string", "description": "name of a phase snapshot"}


@register
class Contrastive(Rule):
    name = "contrastive"
    about = "ΔW = scale·(post⊗pre @positive − negative_post⊗negative_pre @negative)"
    params = {"positive": SNAPSHOT, "negative": SNAPSHOT, "pre": REF, "post": REF, "negative_pre": REF,
              "negative_post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}

    def missing(self, params):
        # a negative phase is a snapshot, or other signals read at the update
        return [] if {"negative", "negative_pre", "negative_post"} & set(params) else ["negative"]

    def lower(self, params, factors):
        positive, negative = params.get("positive"), params.get("negative")
        post = factors.post(params.get("post"), positive)
        pre = factors.pre(params.get("pre"), positive)
        negative_post = factors.post(params.get("negative_post", params.get("post")), negative, role="negative_post")
        negative_pre = factors.pre(params.get("negative_pre", params.get("pre")), negative, role="negative_pre")
        return factors.equation("scale * (outer(post, pre) - outer(negative_post, negative_pre))",
                                {"post": post, "pre": pre, "negative_post": negative_post, "negative_pre": negative_pre,
                                 "scale": params["scale"]})
