"""Component kinds: one module each, declaring a kind's compartments, options and defaults, how a
component of it is checked, how the planner lowers it to operators, and its colour in drawings.

A kind subclasses :class:`Kind` and is decorated with :func:`register`; a spec names it in a
component's ``kind:``. Its options join the spec's schema; its lowering uses the planner's own
helpers (``projections``, ``activate``), so a kind that needs no new operator is this one module.
"""
from __future__ import annotations

import importlib
import pkgutil

from .. import language
from ..schema_parts import COUNT, EXPRESSION, POSITIVE, obj

REGISTRY: dict = {}

#: options several kinds share, with one schema
ACTIVATION = {"description": "phi = f(z): a library activation, or {phi: EXPRESSION of z} (dphi found symbolically "
                             "unless given)", "anyOf": [
    {"enum": list(language.ACTIVATIONS)},
    obj({"phi": {**EXPRESSION, "description": "phi as an expression of z, e.g. 'log(1 + exp(z))'"},
         "dphi": {**EXPRESSION, "description": "its derivative in z (default: found symbolically)"}}, ["phi"])]}
NEURON_OPTIONS = {
    "activation": ACTIVATION,
    "kwta": {**COUNT, "minimum": 0},   # 0, the default: no competition (a resolved spec writes it)
    "sample": {"enum": list(language.SAMPLES), "description": "s ~ Bernoulli(phi), or phi + noise·N(0, 1)"},
    "noise": {**POSITIVE, "description": "the standard deviation of a gaussian sample"},
    "lattice": {"type": "array", "items": COUNT, "minItems": 2, "maxItems": 2,
                "description": "[rows, cols]: the units laid out on a grid, row by row (a self-organising map's "
                               "lattice: init dist lattice gives distances on it; receptive fields are drawn on it)"},
}


class Kind:
    """A component kind. Registers keep their values between steps; the other kinds are computed
    afresh, in dependency order, every time the circuit is swept."""

    name = ""
    about = ""
    compartments: tuple = ()   # what a reference may name; the first is the output
    driven = None              # the compartment a cable drives when `to:` names only the component
    drivable: tuple = ()       # the compartments a cable may drive
    register = False           # keeps its values between steps
    advances = False           # a register with dynamics of its own: its step runs every step of a phase
    clampable = False          # a phase may hold it at data or a constant
    nudgeable = False          # a phase may nudge it toward a value (a soft clamp with beta)
    feedforward = False        # `init: feedforward` starts it at the sum of its cables from nearer the clamps
    options: dict = {}         # option -> JSON Schema (kind, size and about are every kind's)
    defaults: dict = {}
    needs_size = True
    colour = "#dddddd"

    def compartments_of(self, comp) -> tuple:
        """The compartments of one component (a kind may add its own, as a neuron its variables)."""
        return self.compartments

    def check(self, comp, path, resolver):
        """Check and parse what is particular to the kind (errors go to ``resolver``)."""

    def link(self, comp, resolver):
        """Resolve references to other components, once all exist."""

    def wire(self, comp, planner):
        """Add the kind's own connections (beyond the spec's cables) to the planner."""

    def edges(self, comp) -> list:
        """The connections the kind implies beyond the spec's cables, as graph edges (source, destination,
        key, attributes): drawn dotted, and they order the sweep as cables do."""
        return []

    def sweep(self, planner, name) -> list:
        """Operators that compute a component afresh, in a sweep (kinds that are not registers)."""
        return []

    def step(self, planner, name, clamp) -> list:
        """Operators that advance a free register one step (``clamp``: its soft clamp, if any)."""
        return []

    def settled(self, planner, name) -> list:
        """Operators after a register's step that follow from its new values (its phi)."""
        return []

    def rest(self, planner, name) -> list:
        """Operators that put a register at rest, where a phase starts it."""
        return []


def register(cls):
    """Class decorator adding a kind to the registry under ``cls.name``."""
    REGISTRY[cls.name] = cls()
    return cls


def check_neuron_options(comp, path, resolver):
    """The options of kinds with an activation: a gaussian sample's noise, k-WTA's k, a lattice's size, a
    written activation."""
    spec, name = comp.opts, comp.name
    if spec.get("sample") == "gaussian":
        spec.setdefault("noise", 1.0)
    elif "noise" in spec:
        resolver.error(path + ("noise",), f"'noise' is the spread of a gaussian sample; component '{name}' samples "
                       f"'{spec.get('sample', 'none')}': set sample: gaussian or drop noise")
    if spec.get("kwta", 0) > comp.size:
        resolver.error(path + ("kwta",), f"component '{name}' keeps the {spec['kwta']} largest of its {comp.size} "
                       "units active: kwta must be at most its size")
    if "lattice" in spec and spec["lattice"][0] * spec["lattice"][1] != comp.size:
        rows, cols = spec["lattice"]
        resolver.error(path + ("lattice",), f"a {rows} × {cols} lattice has {rows * cols} places; component "
                       f"'{name}' has {comp.size} units")
    if isinstance(spec.get("activation"), dict):
        comp.activation = resolver.activation(comp, path + ("activation",))


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
