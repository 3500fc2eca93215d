"""Reading YAML while remembering where every key and value came from."""
from __future__ import annotations

import yaml

from .diagnostics import Diagnostic, SpecError


class SourceMap:
    """Positions (line, col; 1-based) of the values and keys of a parsed document, by path."""

    def __init__(self, file: str):
        self.file = file
        self.values: dict[tuple, tuple[int, int]] = {}
        self.keys: dict[tuple, tuple[int, int]] = {}

    def where(self, path, key=False) -> tuple[int, int]:
        """The position of ``path``, or of its nearest recorded ancestor."""
        path = tuple(path)
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def diagnostic(self, path, message, key=False) -> Diagnostic:
        line, col = self.where(path, key)
        return Diagnostic(message, self.file, line, col)


def _mark(node):
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _record(node, path, smap: SourceMap, problems: list, seen: set):
    smap.values.setdefault(path, _mark(node))
    if id(node) in seen:  # an alias: positions of the anchored original
        return
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        names = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for m in merged:
                    _record(m, path, smap, problems, seen)
                continue
            key = key_node.value
            if key in names:
                first = names[key]
                problems.append(Diagnostic(f"duplicated key '{key}' (first at line {first[0]}, column {first[1]})",
                                           smap.file, *_mark(key_node)))
            names.setdefault(key, _mark(key_node))
            smap.keys[path + (key,)] = _mark(key_node)
            _record(value_node, path + (key,), smap, problems, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, path + (i,), smap, problems, seen)


def parse_yaml(text: str, file: str = "<spec>"):
    """Parse YAML with safe-load semantics; returns (data, SourceMap) or raises SpecError."""
    smap = SourceMap(file)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise SpecError([Diagnostic("the spec is empty", file, 1, 1)])
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            what += f" ({exc.context} that starts at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        raise SpecError([Diagnostic(f"YAML syntax: {what}", file, line, col)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(f"YAML syntax: {exc}", file, 1, 1)]) from None
    problems: list[Diagnostic] = []
    _record(node, (), smap, problems, set())
    if problems:
        raise SpecError(problems)
    return data, smap
