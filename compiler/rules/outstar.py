"""Outstar rule (Grossberg): active sources pull their outgoing weights toward the target,
ΔU = post ⊗ pre − U·diag(pre); with one-hot winners each column learns its cluster's mean target."""
from . import register
from .kwta import Instar


@register
class Outstar(Instar):
    """The instar's mirror image: the sources' activity scales the decay of their columns."""

    name = "outstar"
    about = "ΔU = scale·(post⊗pre − U·diag(pre)); post is the target the sources learn to emit"
    equation = "scale * (outer(post, pre) - W @ diag(mean(pre)))"
