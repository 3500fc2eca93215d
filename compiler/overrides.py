"""``--set key=value`` overrides: dotted paths into a parsed spec, values written in YAML.

A choice written by name (``rule: hebbian``) can be reached as its mapping form
(``cables.W.rule.hebbian.scale=0``).

They change the parsed spec, not its text, so positions in the file stay true, the file's own
checks (duplicated keys) still hold, and a problem with an overridden value is reported at the
override itself: ``--set train.epoch=3: error: unknown key 'epoch' in train``."""
from __future__ import annotations

import re

from .diagnostics import Diagnostic, SpecError
from .source import parse_yaml

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"[^.\[\]]+(\[\d+\])*(\.[^.\[\]]+(\[\d+\])*)*")
_NO_SPACE = re.compile(r"[{,]\s*[A-Za-z_][\w.]*:[^\s]")


def _keys(path: str):
    if not _PATH.fullmatch(path):
        return None
    return [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _PART.finditer(path)]


def _value(text: str, label: str):
    if not text.strip():
        return None
    try:
        value, _ = parse_yaml(text, label)
    except SpecError as exc:
        raise SpecError([Diagnostic(f"'{text}' is not a YAML value ({exc.diagnostics[0].message})", label)]) from None
    return value


def apply(data: dict, smap, overrides) -> None:
    """Apply each ``path=value`` of ``overrides`` to ``data`` in place, and tell ``smap`` which
    paths now come from which override."""
    for item in overrides:
        label = f"--set {item}"
        path, eq, text = item.partition("=")
        if not eq:
            raise SpecError([Diagnostic("write it as key=value", label)])
        keys = _keys(path)
        if keys is None:
            raise SpecError([Diagnostic(f"'{path}' is not a path like train.epochs or schedule.train[0].steps",
                                        label)])
        value = _value(text, label)
        node = data
        try:
            for i, key in enumerate(keys[:-1]):
                if node[key] == keys[i + 1] and isinstance(node[key], str):
                    node[key] = {node[key]: {}}   # a choice by name is its mapping form with defaults
                node = node[key]
            if isinstance(node, dict) == isinstance(keys[-1], int):   # a mapping takes names, a list indices
                raise TypeError
            node[keys[-1]] = value
        except (KeyError, IndexError, TypeError):
            raise SpecError([Diagnostic("no such place in the spec", label)]) from None
        hint = (" (YAML needs a space after ':' in a mapping: {sgd: {lr: 0.01}}, not {sgd:{lr:0.01}})"
                if _NO_SPACE.search(text) else "")
        smap.override(tuple(keys), label, hint)
