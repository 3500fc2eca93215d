"""The 'none' rule: a trainable-shaped cable that no rule changes (frozen weights)."""
from . import Rule, register


@register
class NoRule(Rule):
    name = "none"
    about = "the weights keep their initial values"
    learns = False

    def lower(self, params, factors):
        return {"terms": ()}
