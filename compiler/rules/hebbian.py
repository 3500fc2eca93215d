"""Two-factor Hebbian rule, with decay and soft bounds: ΔW = [(w_max − W) ⊙] post ⊗ pre − decay·W."""
from ..ops import Decay, Outer
from . import NUMBER, POSITIVE, REF, Rule, register


@register
class Hebbian(Rule):
    name = "hebbian"
    about = "ΔW = scale·post⊗pre (×(w_max − W) with soft bounds) − decay·W"
    params = {"pre": REF, "post": REF, "scale": NUMBER, "decay": {"type": "number", "minimum": 0},
              "w_max": POSITIVE}
    defaults = {"scale": 1.0, "decay": 0.0}

    def lower(self, params, factors):
        terms = [Outer(factors.post(params.get("post")), factors.pre(params.get("pre")), params["scale"])]
        if params["decay"]:
            terms.append(Decay(params["decay"]))
        return {"terms": tuple(terms), "w_max": params.get("w_max")}
