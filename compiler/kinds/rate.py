"""Rates: instant neurons, z = the sum of their cables, phi = activation(z), every sweep."""
from ..ops import Signal
from . import NEURON_OPTIONS, Kind, check_neuron_options, register


@register
class Rate(Kind):
    name = "rate"
    about = "instant: z = sum of its cables, phi = activation(z)"
    compartments = ("phi", "z", "dphi", "s")
    driven = "z"
    drivable = ("z",)
    options = dict(NEURON_OPTIONS)
    defaults = {"activation": "identity", "kwta": 0, "sample": "none"}
    colour = "#a1d99b"

    def check(self, comp, path, resolver):
        check_neuron_options(comp, path, resolver)

    def sweep(self, planner, name):
        return planner.projections(Signal(name, "z")) + planner.activate(name)
