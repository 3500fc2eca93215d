"""Pieces of JSON Schema the spec's sections share (the schema module assembles them; component
kinds and rules declare their options with them)."""
from __future__ import annotations

from . import language

# A name becomes part of identifiers in generated code, so its pattern is strict: letters and digits
# with single inner underscores ('__' is the separator the code generator reserves, which keeps its
# mangling injective). (?![\s\S]) ends the text in Python and ECMA regexes alike; Python's $ would
# also match before a final newline.
IDENT = r"[A-Za-z](?:_?[A-Za-z0-9])*"
END = r"(?![\s\S])"
NAME = {"type": "string", "pattern": f"^{IDENT}{END}"}
REF = {"type": "string", "pattern": f"^{IDENT}(?:\\.{IDENT})?{END}"}
NUMBER, POSITIVE = {"type": "number"}, {"type": "number", "exclusiveMinimum": 0}
COUNT = {"type": "integer", "minimum": 1, "maximum": language.MAX_COUNT}
EXPRESSION = {"type": "string", "minLength": 1, "maxLength": 2000}
SCHEDULE = {"type": "object", "required": ["from", "to"], "additionalProperties": False,
            "properties": {"from": {**NUMBER, "description": "the value in the first training epoch"},
                           "to": {**NUMBER, "description": "the value in the last training epoch (and after)"},
                           "shape": {"enum": list(language.SCHEDULE_SHAPES),
                                     "description": "how it goes between (default geometric: the same factor each epoch)"}},
            "description": "a number scheduled over train.epochs, e.g. a radius {from: 3, to: 0.5}"}
#: a named number of an expression: fixed, or scheduled over the training epochs
CONSTANT = {"anyOf": [NUMBER, SCHEDULE]}


def obj(properties, required=(), **extra):
    """An object with exactly these properties."""
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False, **extra}
