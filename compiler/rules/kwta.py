"""Competitive (instar) rule: winners move their weights toward the input, ΔW = m ⊗ pre − diag(m)·W."""
from . import NUMBER, REF, Rule, register


@register
class Instar(Rule):
    name = "kwta"
    about = "instar: ΔW = scale·(m⊗pre − diag(m)·W), m = post (the k-WTA winners mask)"
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}
    equation = "scale * (outer(post, pre) - diag(mean(post)) @ W)"   # each winner's row moves toward its input

    def lower(self, params, factors):
        return factors.equation(self.equation, {"post": factors.post(params.get("post")),
                                                "pre": factors.pre(params.get("pre")), "scale": params["scale"]})
