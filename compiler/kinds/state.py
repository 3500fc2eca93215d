"""States: leaky integrators, z += dt/tau·(in − leak·z [+ beta·(nudge − z)]), phi = activation(z)."""
from .. import language
from ..ops import Integrate, Zero
from ..schema_parts import POSITIVE
from . import NEURON_OPTIONS, Kind, check_neuron_options, register


@register
class State(Kind):
    name = "state"
    about = "a register: z += dt/tau·(in − leak·z) per step; phi = activation(z)"
    compartments = ("phi", "z", "dphi", "in", "s")
    driven = "in"
    drivable = ("in",)
    register = True
    advances = True
    clampable = True
    nudgeable = True
    feedforward = True
    options = {**NEURON_OPTIONS, "tau": POSITIVE, "dt": POSITIVE, "leak": {"type": "number", "minimum": 0},
               "lifetime": {"enum": list(language.LIFETIMES), "description": "persistent: a state carried from "
                            "trial to trial (a persistent chain, a running average), checkpointed, never reset by a "
                            "phase"}}
    defaults = {"activation": "identity", "tau": 1.0, "dt": 0.1, "leak": 0.0, "kwta": 0, "sample": "none",
                "lifetime": "trial"}
    colour = "#fdd085"

    def check(self, comp, path, resolver):
        check_neuron_options(comp, path, resolver)

    def step(self, planner, name, clamp):
        opts = planner.components[name].opts
        nudge, beta = clamp or (None, 0.0)
        return [Integrate(name, opts["dt"] / opts["tau"], float(opts["leak"]), nudge, beta or 0.0)]

    def settled(self, planner, name):
        return planner.activate(name)

    def rest(self, planner, name):
        return [Zero(name), *planner.activate(name)]
