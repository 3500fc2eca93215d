"""The ngdsl compiler: YAML spec → checked circuit → networkx graph → execution plan.

It knows nothing of numba; its output, :class:`~ngdsl.compiler.plan.Plan`, is plain data.
"""
from __future__ import annotations

import copy
import os
import stat
from dataclasses import dataclass

import networkx as nx

from . import memory
from .diagnostics import Diagnostic, SpecError, did_you_mean
from .memory import MemoryEstimate
from .graph import algebraic_loops, build_graph, unconnected
from .plan import Plan, lower, referenced_signals
from .resolve import Circuit, resolve
from .schema import build_schema, violations
from .overrides import apply as apply_overrides
from .source import MAX_BYTES, parse_yaml

__all__ = ["Compiled", "Diagnostic", "Plan", "SpecError", "build_schema", "compile_file", "compile_text",
           "did_you_mean"]


@dataclass
class Compiled:
    """The result of compiling a spec."""

    circuit: Circuit
    graph: nx.MultiDiGraph
    plan: Plan
    resolved: dict
    warnings: list
    memory: MemoryEstimate


def compile_text(text, file: str = "<spec>", base_dir: str = ".", optimize: bool = True, overrides=(),
                 max_memory: int = None) -> Compiled:
    """Compile spec text; raises :class:`SpecError` listing every problem found (a spec that fails
    its schema is also resolved without the rejected values, so mistakes of both kinds come together).

    ``overrides`` lists ``path=value`` changes (``--set``); ``optimize=False`` keeps every operator
    where the semantics put it (no hoisting, no sharing); a circuit whose arrays would take more
    than ``max_memory`` bytes (default: :func:`memory.default_budget`) is refused."""
    data, smap = parse_yaml(text, file)
    if overrides and isinstance(data, dict):
        apply_overrides(data, smap, overrides)
    if not isinstance(data, dict):
        raise SpecError([Diagnostic("a spec is a mapping of keys (ngdsl, name, components, ...)", file, 1, 1)])
    found = violations(data, smap)
    if found:
        problems = [d for _, d, _ in found]
        seen = {(d.line, d.col) for d in problems}
        raise SpecError(problems + [d for d in _beyond_the_schema(data, found, smap, base_dir)
                                    if (d.line, d.col) not in seen])
    circuit, problems = resolve(data, smap, base_dir)
    if problems:
        raise SpecError(sorted(problems, key=lambda d: (d.line, d.col)))
    graph = build_graph(circuit)
    problems = algebraic_loops(graph, file)
    if problems:
        raise SpecError(problems)
    plan = lower(circuit, graph, optimize)
    needs = memory.estimate(plan, circuit.data_rows, circuit.data_widths)
    problems = memory.over_budget(needs, memory.default_budget() if max_memory is None else max_memory, smap)
    if problems:
        raise SpecError(problems)
    named = {s.component for s in referenced_signals(circuit)}
    return Compiled(circuit, graph, plan, circuit.resolved, unconnected(graph, file, named), needs)


def _beyond_the_schema(data, found, smap, base_dir) -> list:
    """What the resolver finds in the rest of a spec whose only schema violations (``found``) are
    unknown keys (typos), found with those keys set aside, so one pass reports mistakes of both
    kinds. A value the schema rejected is not guessed at: without it the resolver would report its
    absence."""
    if not all(unknown for _, _, unknown in found):
        return []
    pruned = copy.deepcopy(data)
    for path, _, _ in found:
        parent = pruned
        try:
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        except (KeyError, IndexError, TypeError):   # already gone with an enclosing key
            continue
    return resolve(pruned, smap, base_dir)[1] if not violations(pruned, smap) else []


def read_spec(path: str) -> bytes:
    """The bytes of the spec file at ``path``: a regular file no larger than the parser takes
    (checked before opening: opening a FIFO would wait for a writer)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise SpecError([Diagnostic("cannot read the spec: not a regular file", path, 0, 0)])
        with open(path, "rb") as f:
            text = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError([Diagnostic(f"cannot read the spec: {exc.strerror}", path, 0, 0)]) from None
    return text


def compile_file(path: str, overrides=(), optimize: bool = True, max_memory: int = None) -> Compiled:
    """Compile the spec at ``path`` with ``overrides`` (data paths resolve relative to its folder)."""
    return compile_text(read_spec(path), path, os.path.dirname(os.path.abspath(path)), optimize, overrides,
                        max_memory)
