"""``--set key=value`` overrides: dotted paths into a spec, values parsed as YAML scalars."""
from __future__ import annotations

import re

import yaml

from .compiler import Diagnostic, SpecError

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def apply(text: str, file: str, overrides) -> str:
    """Return spec text with each ``path=value`` (or (path, value)) applied; values are YAML."""
    if not overrides:
        return text
    data = yaml.safe_load(text)
    for item in overrides:
        if isinstance(item, str) and "=" not in item:
            raise SpecError([Diagnostic(f"--set {item}: write it as key=value", file, 0, 0)])
        path, value = item.split("=", 1) if isinstance(item, str) else item
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                raise SpecError([Diagnostic(f"--set {path}: '{value}' is not a YAML value", file, 0, 0)]) from None
        keys = [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _PART.finditer(path)]
        node = data
        try:
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value
        except (KeyError, IndexError, TypeError):
            raise SpecError([Diagnostic(f"--set {path}: no such place in the spec", file, 0, 0)]) from None
    # Positions now refer to the rewritten text; it is shown with the file name and a marker.
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
