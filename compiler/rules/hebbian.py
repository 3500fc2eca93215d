"""Two-factor Hebbian rule, with decay and soft bounds: ΔW = [(w_max − W) ⊙] post ⊗ pre − decay·W."""
from . import NUMBER, POSITIVE, REF, Rule, register


@register
class Hebbian(Rule):
    name = "hebbian"
    about = "ΔW = scale·post⊗pre (×(w_max − W) with soft bounds) − decay·W"
    params = {"pre": REF, "post": REF, "scale": NUMBER, "decay": {"type": "number", "minimum": 0},
              "w_max": POSITIVE}
    defaults = {"scale": 1.0, "decay": 0.0}

    def lower(self, params, factors):
        names = {"post": factors.post(params.get("post")), "pre": factors.pre(params.get("pre")),
                 "scale": params["scale"], "decay": params["decay"]}
        if "w_max" in params:
            return factors.equation("(w_max - W) * (scale * outer(post, pre)) - decay * W",
                                    {**names, "w_max": params["w_max"]})
        return factors.equation("scale * outer(post, pre) - decay * W", names)
