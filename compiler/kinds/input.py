"""Inputs: registers a phase clamps to data (or a constant); zero where no clamp holds them."""
from ..ops import Zero
from . import Kind, register


@register
class Input(Kind):
    name = "input"
    about = "a register set by clamps; zero when not clamped"
    compartments = ("z", "phi")
    register = True
    clampable = True
    colour = "#9ecae1"

    def rest(self, planner, name):
        return [Zero(name)]
