"""Error neurons: e = precision·(target − mu), target − softmax(mu), or an expression; a state
target is driven by −e (its feedback)."""
from .. import language
from ..ops import Accumulate, ComputeError, Signal
from ..schema_parts import EXPRESSION, POSITIVE, REF, obj
from . import Kind, register


@register
class Error(Kind):
    name = "error"
    about = "instant: e = precision·(target − mu), or target − softmax(mu) with loss: softmax"
    compartments = ("e", "mu", "target")
    driven = "mu"
    drivable = ("mu", "target")
    options = {
        "target": REF,
        "precision": POSITIVE,
        "loss": {"description": "gaussian: e = precision·(target − mu); softmax: e = target − softmax(mu); or "
                                "{e: EXPRESSION of target, mu and precision}", "anyOf": [
                     {"enum": list(language.LOSSES)},
                     obj({"e": {**EXPRESSION, "description": "e as an expression, e.g. 'sign(target - mu)'"}}, ["e"])]},
        "feedback": {"type": "boolean"},
    }
    defaults = {"precision": 1.0, "loss": "gaussian"}
    needs_size = False   # it can take its target's
    colour = "#f4a3a3"

    def check(self, comp, path, resolver):
        if isinstance(comp.opts.get("loss"), dict):
            comp.loss = resolver.loss(comp, path + ("loss", "e"))

    def link(self, comp, resolver):
        spec, path = comp.opts, ("components", comp.name)
        if "target" not in spec:
            spec.setdefault("feedback", False)
            if comp.size == 0:
                resolver.error(path, f"error '{comp.name}' needs a 'size' or a 'target'")
            return
        target = resolver.signal(spec["target"], path + ("target",), f"error '{comp.name}' targets", default="z")
        if not target:
            return
        spec["target"] = target.component if target.compartment == "z" else str(target)
        tsize = resolver.components[target.component].size
        if comp.size == 0:
            comp.size = spec["size"] = tsize
        elif tsize and tsize != comp.size:
            resolver.error(path + ("target",), f"error '{comp.name}' has size {comp.size} but its target "
                                               f"'{target}' has size {tsize}")
        is_state = resolver.components[target.component].kind == "state"
        spec.setdefault("feedback", is_state and target.compartment == "z")
        if spec["feedback"] and not (is_state and target.compartment == "z"):
            resolver.error(path + ("feedback",), f"feedback needs a state target; '{target}' is not a state's z")
        comp.target = target

    def edges(self, comp):
        if comp.target is None:
            return []
        found = [(comp.target.component, comp.name, f"{comp.name}.target",
                  {"transform": "identity", "source": comp.target.compartment, "target": "target", "scale": 1.0})]
        if comp.opts.get("feedback"):
            found.append((comp.name, comp.target.component, f"{comp.name}.feedback",
                          {"transform": "identity", "source": "e", "target": "in", "scale": -1.0}))
        return found

    def wire(self, comp, planner):
        """Its target copied into its own compartment when something else reads or drives that, else read in
        place; and the −e feedback into a state target."""
        if comp.target is None:
            return
        own = Signal(comp.name, "target")
        if own in planner.referenced or own in planner.driven:
            planner.add(None, Accumulate(f"{comp.name}.target", planner.sig(comp.target), own, 1.0, None, None))
        else:
            planner.error_targets[comp.name] = planner.sig(comp.target)   # read in place: no copy
        if comp.opts.get("feedback"):
            planner.add(None, Accumulate(f"{comp.name}.feedback", Signal(comp.name, "e"),
                                         Signal(comp.target.component, "in"), -1.0, None, None))

    def sweep(self, planner, name):
        comp = planner.components[name]
        ops = planner.projections(Signal(name, "mu"))
        if Signal(name, "target") in planner.incoming:
            ops += planner.projections(Signal(name, "target"))
        ops.append(ComputeError(name, comp.loss or comp.opts["loss"], float(comp.opts["precision"]),
                                planner.error_targets.get(name, Signal(name, "target"))))
        return ops
