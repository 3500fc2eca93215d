"""The JSON Schema of the spec language, and schema validation turned into diagnostics."""
from __future__ import annotations

import functools
import json
import math
import os

import jsonschema

from . import language
from .kinds import REGISTRY as KINDS
from .schema_parts import COUNT, END, EXPRESSION, IDENT, NAME, NUMBER, POSITIVE, REF, obj
from .schema_text import describe
from .diagnostics import did_you_mean
from .rules import REGISTRY as RULES

SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "ngdsl.schema.json")
_num, _pos, _int, _expression, _obj = NUMBER, POSITIVE, COUNT, EXPRESSION, obj
_decay = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}


def _choice(options: dict, about: str):
    """A name, or a one-key mapping from that name to its parameters."""
    return {"description": about, "anyOf": [
        {"type": "string", "enum": sorted(options)},
        {"type": "object", "properties": options, "additionalProperties": False,
         "minProperties": 1, "maxProperties": 1},
    ]}


def build_schema() -> dict:
    """The complete JSON Schema (draft 2020-12) of an ngdsl spec."""
    rules = {name: _obj(rule.params, rule.required, description=rule.about) for name, rule in RULES.items()}
    optimizers = {name: _obj(params) for name, (params, _) in language.OPTIMIZERS.items()}
    data_props = {"dataset": {"enum": sorted(language.DATASETS)}, "test_fraction":
                  {"type": "number", "minimum": 0, "exclusiveMaximum": 1}, "batch": _int, "shuffle": {"type": "boolean"},
                  "validation_fraction": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                  "seed": {"type": "integer", "minimum": 0, "maximum": 2 ** 32 - 1,
                           "description": "draws generated data and the train/test split (default: the spec's seed)"}}
    for dataset in language.DATASETS.values():
        data_props.update(dataset.params)
    data_props["streams"] = {"type": "object", "description": "named data streams derived from x or y every trial",
                             "propertyNames": NAME, "additionalProperties": {"oneOf": [
                                 _obj({kind: {"enum": ["x", "y"], "description": about}, **params}, [kind])
                                 for kind, (params, _, about) in language.STREAMS.items()]}}
    ref = REF
    options = {}
    for kind in KINDS.values():
        options.update(kind.options)
    component = _obj({"kind": {"enum": sorted(KINDS), "description": "what the component is: "
                                                                      + "; ".join(f"{k.name}: {k.about}" for k in KINDS.values())},
                      "size": _int, **options, "about": {"type": "string"}}, ["kind"])
    init = _obj({"dist": {"enum": list(language.INITS)}, "scale": _num, "fan": {"enum": ["in", "out"]}, "offset": _num})
    cable = _obj({
        "from": ref, "to": ref,
        "transform": {"enum": ["dense", "fixed", "identity"]},
        "tied": NAME, "transpose": {"type": "boolean"},
        "derive": {"enum": list(language.DERIVED),
                   "description": "carry this function of the weights the cable learns (a tied cable: of its owner's), "
                                  "re-derived after each update: sign, their signs; precision, the inverse of their "
                                  "symmetric part with its diagonal raised to at least 1 (a learned covariance)"},
        "scale": _num, "init": init, "bias": {"type": "boolean"},
        "gate": ref,
        "mask": {"description": "which connections exist: no self-connections, only within groups, only within a band",
                 "anyOf": [{"enum": ["zero_diagonal"]},
                           _obj({"zero_diagonal": {"type": "boolean"}, "groups": _int,
                                 "band": {"type": "integer", "minimum": 0, "maximum": language.MAX_COUNT}}, minProperties=1)]},
        "response": {"enum": ["dot", "neg_sqdist"]},
        "rule": _choice(rules, "the learning rule of this cable"),
        "lr": _pos, "about": {"type": "string"},
        "frozen": {"type": "boolean", "description": "keep the initial weights; updates that list the cable skip it"},
    }, ["from", "to"])
    data_ref = {"type": "string", "pattern": f"^data\\.{IDENT}{END}", "description": "data.x, data.y or a declared stream"}
    hold = {"const": "hold", "description": "keep the value the phases before left (a state held still), e.g. "
                                           "to generate top-down from a settled top layer"}
    prior = {"const": "prior", "description": "in schedule.sample: a draw of the prior (a Gaussian mixture fitted to "
                                             "the values schedule.encode, else schedule.predict, leaves in this "
                                             "state on the training examples)"}
    clamp_value = {"anyOf": [data_ref, _num, hold, prior,
                             _obj({"value": {"anyOf": [data_ref, _num]},
                                   "beta": {**_num, "description": "the nudge strength; negative nudges away "
                                            "from the value (the symmetric estimate of Laborieux et al.)"}}, ["value"])]}
    phase = _obj({"phase": NAME, "steps": {"type": "integer", "minimum": 0, "maximum": language.MAX_STEPS},
                  "clamp": {"type": "object", "additionalProperties": clamp_value},
                  "init": {"enum": list(language.INIT_POLICIES)}, "snapshot": NAME, "read": ref,
                  "tolerance": {**_pos, "description": "stop settling once no state changes by more than this "
                                "in a step (steps is then the most it takes)"},
                  "learn": {"type": "array", "items": NAME, "minItems": 1, "uniqueItems": True,
                            "description": "cables whose rule applies after every step of this phase (online "
                                           "plasticity: W += lr·ΔW, lr the cable's or the optimizer's)"},
                  "accumulate": {"anyOf": [{"type": "array", "items": NAME, "minItems": 1, "uniqueItems": True},
                                           {"type": "object", "minProperties": 1, "propertyNames": NAME,
                                            "additionalProperties": _num}],
                                 "description": "cables whose rule is evaluated when this phase has settled and "
                                                "added to the trial's ΔW (times the number given; a list means 1); "
                                                "the next update applies the sum"}}, ["phase"])
    update = _obj({"update": {"type": "array", "items": NAME, "minItems": 1}}, ["update"])
    routine = {"type": "array", "minItems": 1, "items": {"anyOf": [phase, update]}}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ngdsl model spec",
        **_obj({
            "ngdsl": {"const": 1, "description": "format version"},
            "name": {"type": "string"}, "about": {"type": "string"},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2 ** 32 - 1},
            "dtype": {"enum": list(language.DTYPES)},
            "data": _obj(data_props, ["dataset"]),
            "components": {"type": "object", "minProperties": 1, "propertyNames": NAME,
                           "additionalProperties": component},
            "cables": {"type": "object", "propertyNames": NAME, "additionalProperties": cable},
            "schedule": _obj({"train": routine, "predict": routine, "sample": routine, "encode": routine}, ["train"]),
            "prior": _obj({"components": {"type": "integer", "minimum": 1, "maximum": 1000,
                                          "description": "Gaussians in the mixture (full covariances), default 10"},
                           "draws": {"type": "integer", "minimum": 1, "maximum": 100000,
                                     "description": "samples log_px averages over, default 1000"}}),
            "train": _obj({"epochs": {"type": "integer", "minimum": 0, "maximum": language.MAX_STEPS},
                           "optimizer": _choice(optimizers, "how ΔW is applied"),
                           "threads": {"description": "BLAS threads: a count, or auto (measured while training)",
                                       "anyOf": [{"type": "integer", "minimum": 1, "maximum": 1024},
                                                 {"const": "auto"}]},
                           "keep_best": {"enum": list(language.METRICS)},
                           "evaluate_every": {"type": "integer", "minimum": 1, "maximum": language.MAX_STEPS},
                           "lr_decay": {"oneOf": [
                               _obj({"factor": _decay, "at": {"type": "array", "minItems": 1, "uniqueItems": True,
                                                              "items": {"type": "integer", "minimum": 1,
                                                                        "maximum": language.MAX_STEPS}}},
                                    ["factor", "at"]),
                               _obj({"factor": _decay, "every": {"type": "integer", "minimum": 1,
                                                                 "maximum": language.MAX_STEPS}}, ["factor", "every"])]},
                           "stop_after": {"type": "integer", "minimum": 1, "maximum": language.MAX_STEPS}}),
            "metrics": {"type": "array", "items": {"enum": list(language.METRICS)}},
            "monitors": _obj({"record": {"type": "array", "items": ref}, "weights": {"type": "array", "items": NAME},
                              "examples": {"type": "integer", "minimum": 1, "maximum": 1000},
                              "steps": {"type": "boolean"}, "samples": ref}),
        }, ["ngdsl", "name", "data", "components", "schedule"]),
    }
    schema = json.loads(json.dumps(schema))   # pieces are shared (one integer type, many keys): describe copies
    describe(schema)
    return schema


def published_schema() -> dict:
    """The schema file shipped with the package (kept equal to :func:`build_schema` by a test)."""
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        return json.load(f)


_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false"}
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def _where(path):
    return "/".join(str(p) for p in path) or "the spec"


def _messages(error):
    """Yield (path, message, at_key) for one jsonschema error."""
    path = tuple(error.absolute_path)
    v = error.validator
    if v == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                yield path + (key,), f"unknown key '{key}' in {_where(path)}{did_you_mean(key, known)}", True
    elif v in ("anyOf", "oneOf"):
        kind = _JSON_TYPES.get(type(error.instance))
        branches = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        here = error.relative_path.__class__()
        fitting = [errs for errs in branches.values()
                   if not any(e.validator == "type" and e.relative_path == here for e in errs)]
        # the branch whose own keys the value has (a stream's kind, a rule's name) says what is wrong with it
        fitting.sort(key=lambda errs: any(e.validator == "required" and e.relative_path == here for e in errs))
        for errs in fitting[:1]:
            for sub in errs:
                yield from _messages(sub)
        if not fitting:
            yield path, f"{_where(path)} has the wrong type ({kind})", False
    elif v == "enum":
        options = error.validator_value
        yield path, (f"'{error.instance}' is not one of {', '.join(map(str, options))} in {_where(path)}"
                     f"{did_you_mean(error.instance, options)}"), False
    elif v == "type":
        want = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in want)
        yield path, f"{_where(path)} must be {names}, not {error.instance!r}", False
    elif v == "required":
        missing = error.message.split("'")[1]
        options = error.schema.get("properties", {}).get(missing, {}).get("enum")
        choices = f" (one of {', '.join(map(str, options))})" if options else ""
        yield path, f"missing required key '{missing}' in {_where(path)}{choices}", False
    elif v == "const":
        yield path, f"{_where(path)} must be {error.validator_value!r}, not {error.instance!r}", False
    elif v == "pattern":
        # a bad component or cable name: point at the name itself
        at = path + (error.instance,) if "propertyNames" in error.schema_path else path
        yield at, (f"'{error.instance}' is not a valid name in {_where(path)} "
                   "(letters and digits, single '_' between them, one optional '.compartment')"), at != path
    elif v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        rel = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        yield path, f"{_where(path)} must be {rel} {error.validator_value}, not {error.instance!r}", False
    elif v in ("minItems", "minProperties"):
        yield path, f"{_where(path)} must not be empty", False
    elif v == "maxProperties":
        yield path, f"{_where(path)} must name exactly one choice, not {', '.join(error.instance)}", False
    else:
        yield path, f"{_where(path)}: {error.message}", False


def _is_integer(checker, value):
    """Integers are written as integers: 2.0 is a number, and true is not 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(checker, value):
    """Every number in a spec is finite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validator():
    """The validator of the schema the registries give now (a kind or rule registered late counts)."""
    return _validator_for(tuple(KINDS), tuple(RULES))


@functools.lru_cache(maxsize=4)
def _validator_for(kinds, rules):
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number})
    return jsonschema.validators.extend(base, type_checker=checker)(build_schema())


def violations(data, smap):
    """(path, diagnostic, unknown key?) for every schema violation in ``data``, in source order."""
    found = {}
    for error in _validator().iter_errors(data):
        for path, message, at_key in _messages(error):
            d = smap.diagnostic(path, message, key=at_key)
            found[(d.line, d.col, message)] = (path, d, error.validator == "additionalProperties")
    return [found[k] for k in sorted(found)]


def validate(data, smap):
    """Diagnostics for every schema violation in ``data``, in source order."""
    return [d for _, d, _ in violations(data, smap)]
