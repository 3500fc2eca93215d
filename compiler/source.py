"""Reading YAML while remembering where every key and value came from.

A spec is untrusted: its size, nesting depth, aliases and expanded size are bounded before any
structure is built from it, and only the tags of plain data (null, booleans, numbers, strings,
lists, mappings) are read."""
from __future__ import annotations

import re

import yaml

from .diagnostics import Diagnostic, SpecError


class SourceMap:
    """Positions (line, col; 1-based) of the values and keys of a parsed document, by path."""

    def __init__(self, file: str):
        self.file = file
        self.values: dict[tuple, tuple[int, int]] = {}
        self.keys: dict[tuple, tuple[int, int]] = {}
        self.overrides: dict[tuple, tuple[str, str]] = {}   # path -> (the --set that wrote it, a hint)
        self.texts: dict[tuple, tuple[bool, bool]] = {}      # path of a string -> (quoted, on one line)

    def override(self, path, label: str, hint: str = ""):
        """Everything at and below ``path`` now comes from the override ``label``."""
        self.overrides[tuple(path)] = (label, hint)

    def _override_of(self, path):
        for i in range(len(path), 0, -1):
            if path[:i] in self.overrides:
                return self.overrides[path[:i]]
        return None

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

    def inside(self, path, offset, message) -> Diagnostic:
        """A diagnostic at character ``offset`` of the string at ``path``: its own column when the
        string sits on one line of the file (escapes aside), else the string's start."""
        quoted, one_line = self.texts.get(tuple(path), (False, False))
        if self._override_of(tuple(path)) or not one_line:
            return self.diagnostic(path, f"{message} (character {offset + 1} of the expression)")
        line, col = self.where(path)
        return Diagnostic(message, self.file, line, col + offset + quoted)

    def diagnostic(self, path, message, key=False) -> Diagnostic:
        override = self._override_of(tuple(path))
        if override:
            return Diagnostic(message + override[1], override[0])
        line, col = self.where(path, key)
        return Diagnostic(message, self.file, line, col)


#: Limits of a spec's text; real specs are a few kilobytes, a dozen levels deep, with few aliases.
MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_ALIASES = 1000
MAX_NODES = 200_000      # values after expanding every alias

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}": t for t in ("null", "bool", "int", "float", "str", "seq", "map", "merge")}


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that an exponent without a decimal point (1e-4) is a number, as
    in YAML 1.2 and as anyone writing a tolerance or a learning rate expects (YAML 1.1: a string)."""


SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
                                 list("-+0123456789"))


def _shown(value) -> str:
    """A scalar from the spec as a message quotes it: at most 40 characters."""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _mark(node):
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _record(node, path, smap: SourceMap, problems: list, seen: set):
    smap.values.setdefault(path, _mark(node))
    if id(node) in seen:  # an alias: positions below it are those of the anchored original
        return
    seen.add(id(node))
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
    elif node.tag == "tag:yaml.org,2002:str" and node.style in (None, "'", '"'):
        smap.texts[path] = (node.style is not None, node.start_mark.line == node.end_mark.line)


def _check_events(text: str, file: str):
    """Depth and alias limits, from the parser's events (no structure is built yet)."""
    depth, aliases = 0, 0
    for event in yaml.parse(text, Loader=SpecLoader):
        where = (event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError([Diagnostic(f"the spec nests deeper than {MAX_DEPTH} levels", file, *where)])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise SpecError([Diagnostic(f"the spec uses more than {MAX_ALIASES} aliases", file, *where)])


def _check_nodes(root, loader, file: str):
    """The expanded size (aliases counted every time they are used) and the tag of every value."""
    size, problems = {}, []

    def expanded(node):
        if id(node) not in size:
            size[id(node)] = 1   # provisional: a recursive alias counts once
            if node.tag not in _PLAIN_TAGS:
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                shown = f"'{_shown(node.value)}'" if isinstance(node, yaml.ScalarNode) else "this value"
                hint = "; quote it to make it a string" if tag == "!!timestamp" else ""
                problems.append(Diagnostic(f"a spec holds plain values, lists and mappings; {shown} is read "
                                           f"as {tag}{hint}", file, *_mark(node)))
            elif isinstance(node, yaml.MappingNode):
                for key, _ in node.value:
                    if key.tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"):
                        shown = _shown(key.value) if isinstance(key, yaml.ScalarNode) else "a list or mapping"
                        problems.append(Diagnostic(f"a key is a name, but '{shown}' is read as "
                                                   f"{key.tag.replace('tag:yaml.org,2002:', '!!')}; quote it",
                                                   file, *_mark(key)))
                size[id(node)] += sum(expanded(k) + expanded(v) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                size[id(node)] += sum(expanded(item) for item in node.value)
            elif node.tag != "tag:yaml.org,2002:merge":
                try:
                    loader.construct_object(node, deep=True)
                except (ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
                    problems.append(Diagnostic(f"'{_shown(node.value)}' cannot be read as {_PLAIN_TAGS[node.tag]}",
                                               file, *_mark(node)))
            if size[id(node)] > MAX_NODES:
                raise SpecError([Diagnostic(f"the spec expands to more than {MAX_NODES} values (through its aliases)",
                                            file, *_mark(node))])
        return size[id(node)]

    expanded(root)
    if problems:
        raise SpecError(problems)


def parse_yaml(text, file: str = "<spec>"):
    """Parse YAML with safe-load semantics and the limits above; returns (data, SourceMap) or
    raises SpecError. ``text`` may be bytes, which must be UTF-8."""
    if len(text) > MAX_BYTES:
        raise SpecError([Diagnostic(f"the spec is larger than {MAX_BYTES // 1024} KiB", file, 1, 1)])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[:exc.start].count(b"\n") + 1
            col = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
            raise SpecError([Diagnostic("the spec is not UTF-8 text (byte 0x%02x)" % text[exc.start],
                                        file, line, col)]) from None
    smap = SourceMap(file)
    try:
        _check_events(text, file)
        loader = SpecLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise SpecError([Diagnostic("the spec is empty", file, 1, 1)])
            _check_nodes(node, loader, file)
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
