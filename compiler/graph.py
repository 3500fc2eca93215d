"""The compiled circuit as a networkx MultiDiGraph, and the checks that need the whole graph."""
from __future__ import annotations

import networkx as nx

from .diagnostics import Diagnostic
from .kinds import REGISTRY as KINDS


def build_graph(circuit) -> nx.MultiDiGraph:
    """One node per component, one edge per cable (key = cable name); implied edges are marked."""
    g = nx.MultiDiGraph(name=circuit.name, file=circuit.file)
    for name, comp in circuit.components.items():
        attrs = {k: v for k, v in comp.opts.items() if k not in ("kind", "size")}
        if comp.activation is not None:   # drawn as the parsed equation, never as the spec's text
            attrs["activation"] = f"phi = {comp.activation}"
        kind = KINDS[comp.kind]
        g.add_node(name, kind=comp.kind, size=comp.size, stateful=kind.register, colour=kind.colour,
                   line=comp.pos[0], col=comp.pos[1], **attrs)
    for name, comp in circuit.components.items():
        for source, destination, key, attrs in KINDS[comp.kind].edges(comp):
            g.add_edge(source, destination, key=key, implied=True, learnable=False, rule="", line=comp.pos[0],
                       col=comp.pos[1], **attrs)
    for name, cable in circuit.cables.items():
        o = cable.opts
        g.add_edge(cable.source.component, cable.target.component, key=name, transform=cable.transform,
                   implied=False, source=cable.source.compartment, target=cable.target.compartment,
                   scale=o.get("scale", 1.0), learnable=cable.learnable, rule=cable.rule, tied=cable.owner,
                   transpose=bool(o.get("transpose")), gate=o.get("gate") or "", bias=bool(o.get("bias")),
                   mask=", ".join(f"{k}={v}" for k, v in (o.get("mask") or {}).items()), response=o.get("response", "dot"),
                   lateral=cable.source.component == cable.target.component,
                   shape=f"{cable.shape[0]}x{cable.shape[1]}", line=cable.pos[0], col=cable.pos[1])
    return g


def dependencies(g: nx.MultiDiGraph) -> nx.DiGraph:
    """Which instant component needs which within a step: a cable's source, and the component
    whose compartment gates the cable, come before the cable's destination."""
    instant = {n for n, d in g.nodes(data=True) if not d["stateful"]}
    needs = nx.DiGraph()
    needs.add_nodes_from(sorted(instant))
    for u, v, d in g.edges(data=True):
        for source in (u, d.get("gate", "").partition(".")[0]):
            if source in instant and v in instant:
                needs.add_edge(source, v)
    return needs


def instant_order(g: nx.MultiDiGraph):
    """Instant components in dependency order; ties broken by name, never by spec order."""
    return list(nx.lexicographical_topological_sort(dependencies(g)))


def algebraic_loops(g: nx.MultiDiGraph, file: str):
    """A diagnostic for every cycle made only of instant components (through cables or gates)."""
    instant = dependencies(g)
    found = []
    for scc in sorted(nx.strongly_connected_components(instant), key=lambda c: sorted(c)):
        if len(scc) == 1 and not instant.has_edge(*(2 * tuple(scc))):
            continue
        start = min(scc)
        cycle = nx.find_cycle(instant.subgraph(scc), source=start)
        names = [u for u, _ in cycle] + [start]
        d = g.nodes[start]
        found.append(Diagnostic(
            f"algebraic loop: {' -> '.join(names)} is a cycle of instant components; "
            "make one of them a 'state' (a register) to break it", file, d["line"], d["col"]))
    return found


def unconnected(g: nx.MultiDiGraph, file: str, referenced=frozenset()):
    """A warning for every component no cable touches and no rule or readout names (``referenced``):
    it takes part in nothing."""
    return [Diagnostic(f"component '{n}' is connected to no cable; it takes part in nothing", file, d["line"], d["col"],
                       "warning")
            for n, d in sorted(g.nodes(data=True), key=lambda nd: nd[1]["line"])
            if g.degree(n) == 0 and n not in referenced]


def depths(g: nx.MultiDiGraph, sources):
    """Shortest cable distance of every component from ``sources`` (unreachable ones are absent)."""
    return nx.multi_source_dijkstra_path_length(g, set(sources), weight=lambda u, v, d: 1) if sources else {}
