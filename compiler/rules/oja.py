"""Oja's rule (subspace form), ΔW = post ⊗ pre − (post ⊗ post)·W, and Sanger's rule, which keeps
only the lower triangle of post ⊗ post."""
from . import NUMBER, REF, Rule, register


@register
class Oja(Rule):
    name = "oja"
    about = "ΔW = scale·(post⊗pre − (post⊗post)·W); one neuron converges to the first principal component"
    params = {"pre": REF, "post": REF, "scale": NUMBER}
    defaults = {"scale": 1.0}
    equation = "scale * (outer(post, pre) - outer(post, post) @ W)"

    def lower(self, params, factors):
        return factors.equation(self.equation, {"post": factors.post(params.get("post")),
                                                "pre": factors.pre(params.get("pre")), "scale": params["scale"]})


@register
class Sanger(Oja):
    """The generalised Hebbian algorithm: unit k is normalised against units 1..k alone."""

    name = "sanger"
    about = "ΔW = scale·(post⊗pre − LT(post⊗post)·W); unit k converges to the k-th principal component"
    equation = "scale * (outer(post, pre) - tril(outer(post, post)) @ W)"
