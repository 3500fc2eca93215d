"""Drawing the compiled circuit: Graphviz when its ``dot`` is installed, matplotlib otherwise."""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

def edge_style(d):
    """(Graphviz style, colour, label) of a cable by its transform and role."""
    if d.get("implied"):
        return "dotted", "#999999", ""
    label = d["key"]
    if d["transform"] == "tied":
        label += f" = {d['tied']}{'ᵀ' if d['transpose'] else ''}"
    if d.get("rule") and d["rule"] != "none":
        label += f"\\n[{d['rule']}]"
    if d.get("gate"):
        label += f"\\n⊙ {d['gate']}"
    if d.get("mask"):
        label += f"\\nmask {d['mask']}"
    if d.get("lateral"):
        return "bold", "#d62728", label
    if d["transform"] == "fixed":
        return "dashed", "#7f7f7f", label + "\\n(fixed)"
    if d["transform"] == "tied":
        return "dashed", "#1f77b4", label
    if d["transform"] == "identity":
        return "solid", "#7f7f7f", label
    return "solid", "#000000", label


def _dot_quoted(text) -> str:
    """``text`` as the inside of a DOT quoted string: quotes and backslashes cannot end it early."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def to_dot(g) -> str:
    """Graphviz source of a compiled circuit graph."""
    lines = [f'digraph "{_dot_quoted(g.graph.get("name", "circuit"))}" {{', "  rankdir=LR;",
             '  node [style=filled, fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    for n, d in g.nodes(data=True):
        shape = "box" if d["stateful"] else "ellipse"
        extra = f"\\n{_dot_quoted(d['activation'])}" if d.get("activation") not in (None, "identity") else ""
        lines.append(f'  "{n}" [label="{n}\\n{d["kind"]} {d["size"]}{extra}", shape={shape}, '
                     f'fillcolor="{d["colour"]}"];')   # a kind's colour: compiler/kinds
    for u, v, k, d in g.edges(keys=True, data=True):
        style, colour, label = edge_style({**d, "key": k})
        lines.append(f'  "{u}" -> "{v}" [label="{label}", style={style}, color="{colour}", fontcolor="{colour}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def have_graphviz() -> bool:
    return shutil.which("dot") is not None


def _plain(value):
    """An attribute value GraphML can hold (it has no None, lists or objects)."""
    if value is None:
        return ""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def to_graphml(g, path):
    """Write the circuit graph as GraphML (for Gephi, yEd, Cytoscape...)."""
    import networkx as nx

    plain = nx.MultiDiGraph(**{k: _plain(v) for k, v in g.graph.items()})
    plain.add_nodes_from((n, {k: _plain(v) for k, v in d.items()}) for n, d in g.nodes(data=True))
    plain.add_edges_from((u, v, k, {a: _plain(x) for a, x in d.items()}) for u, v, k, d in g.edges(keys=True, data=True))
    nx.write_graphml(plain, path)


def to_json(g, path):
    """Write the circuit graph as node-link JSON (networkx's ``node_link_data``)."""
    import json

    import networkx as nx

    with open(path, "w", encoding="utf-8") as f:
        json.dump(nx.node_link_data(g, edges="edges"), f, indent=1, default=str)
        f.write("\n")


def _write_dot(g, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_dot(g))


#: file extension -> (writer of the graph's data, what the caller is told was used)
EXPORTS = {"dot": (_write_dot, "dot-source"), "graphml": (to_graphml, "graphml"), "json": (to_json, "node-link json")}
PICTURES = ("svg", "png")


def draw(g, path, renderer="auto", phases=()) -> str:
    """Write the circuit to ``path``: a picture (.svg, .png) or the graph itself (.dot, .graphml,
    .json); returns the renderer or format used. ``phases`` (lines from :func:`phase_lines`) are
    drawn beside a matplotlib picture."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in EXPORTS:
        write, used = EXPORTS[ext]
        write(g, path)
        return used
    if ext not in PICTURES:
        raise ValueError(f"cannot draw to '.{ext}': use {', '.join('.' + e for e in PICTURES + tuple(EXPORTS))}")
    if renderer == "graphviz" or (renderer == "auto" and have_graphviz()):
        if not have_graphviz():
            raise ValueError("Graphviz's 'dot' is not installed (apt-get install graphviz), use --renderer matplotlib")
        subprocess.run(["dot", f"-T{ext}", "-o", path], input=to_dot(g).encode(), check=True)
        return "graphviz"
    _draw_matplotlib(g, path, phases)
    return "matplotlib"


def phase_lines(schedule) -> list:
    """One line per phase and update of each routine: its steps, what is clamped, nudged and
    snapshotted, and which cables an update changes."""
    lines = []
    for routine, entries in schedule.items():
        lines.append(f"schedule.{routine}")
        for entry in entries:
            if hasattr(entry, "cables"):
                lines.append(f"  update {', '.join(entry.cables)}")
                continue
            hard = [f"{c} = {source}" for c, (source, beta) in entry.clamps.items() if beta is None]
            soft = [f"{c} → {source} (β {beta:g})" for c, (source, beta) in entry.clamps.items() if beta is not None]
            parts = [f"  {entry.name}: {entry.steps} step{'s' if entry.steps != 1 else ''}"]
            parts += [f"clamp {', '.join(hard)}"] if hard else []
            parts += [f"nudge {', '.join(soft)}"] if soft else []
            parts += [f"snapshot @{entry.snapshot}"] if entry.snapshot else []
            parts += [f"read {entry.read}"] if entry.read else []
            parts += [f"learn {', '.join(entry.learn)} every step"] if entry.learn else []
            parts += [f"ΔW += {', '.join(f'{s:g}·{n}' for n, s in entry.accumulate.items())}"] if entry.accumulate else []
            lines += textwrap.wrap("; ".join(parts), 64, subsequent_indent="      ")
    return lines


def layers(g) -> list:
    """The components in columns: each at its distance from the inputs along the cables (either
    way, so an error sits between what it compares), then ordered within a column by the mean
    row of its neighbours in the column before (fewer crossings: a one-pass Sugiyama ordering)."""
    import networkx as nx

    undirected = nx.Graph(g.to_undirected(as_view=True))
    starts = [n for n, d in g.nodes(data=True) if d["kind"] == "input"] or [min(g.nodes)]
    depth = {}
    for component in nx.connected_components(undirected):
        sources = [n for n in starts if n in component] or [min(component)]
        depth.update(nx.multi_source_dijkstra_path_length(undirected, sources))
    columns = [[] for _ in range(max(depth.values()) + 1)]
    for n in g.nodes:
        columns[depth[n]].append(n)
    for before, column in zip(columns, columns[1:]):
        rank = {n: i for i, n in enumerate(before)}
        def barycentre(n):
            near = [rank[m] for m in undirected.neighbors(n) if m in rank]
            return sum(near) / len(near) if near else len(before)
        column.sort(key=barycentre)
    return columns


def _draw_matplotlib(g, path, phases=()):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Patch

    plt.rcParams["svg.fonttype"] = "none"     # text in an SVG stays text: searchable, selectable
    columns = layers(g)
    tallest = max(len(c) for c in columns)
    pos = {n: (2.2 * i, (len(c) - 1) / 2 - j) for i, c in enumerate(columns) for j, n in enumerate(c)}
    panel = 4.6 if phases else 0.0            # inches for the phases beside the circuit
    width = max(2.0 * len(columns) + 1.0, 5.0) + panel
    fig = plt.figure(figsize=(width, max(1.2 * tallest + 2.2, 4.0)))
    ax = fig.add_axes([0.02, 0.14, (width - panel) / width - 0.03, 0.76])
    styles = {"dotted": ":", "dashed": "--", "bold": "-", "solid": "-"}
    seen = {}
    for u, v, k, d in g.edges(keys=True, data=True):
        style, colour, label = edge_style({**d, "key": k})
        text = label.replace("\\n", "\n")
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if u == v:     # a lateral cable: a loop above its component
            ax.add_patch(FancyArrowPatch((x1 - 0.25, y1 + 0.25), (x1 + 0.25, y1 + 0.25), connectionstyle="arc3,rad=-1.6",
                                         arrowstyle="-|>", mutation_scale=12, color=colour,
                                         linestyle=styles[style], linewidth=2.0 if style == "bold" else 1.2))
            ax.text(x1, y1 + 0.75, text, fontsize=7, color=colour, ha="center", va="bottom")
            continue
        # the same bend both ways: a pair of opposite cables bulges to opposite sides
        bend = 0.12 * (1 + seen.get((min(u, v), max(u, v)), 0))
        seen[(min(u, v), max(u, v))] = seen.get((min(u, v), max(u, v)), 0) + 1
        ax.add_patch(FancyArrowPatch((x1, y1), (x2, y2), connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                     mutation_scale=12, color=colour, linestyle=styles[style], shrinkA=26, shrinkB=26,
                                     linewidth=2.0 if style == "bold" else 1.2))
        if text:
            ax.text((x1 + x2) / 2 + bend * (y2 - y1), (y1 + y2) / 2 - bend * (x2 - x1), text, fontsize=7,
                    color=colour, ha="center", va="center", bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    for n, d in g.nodes(data=True):
        x, y = pos[n]
        activation = d.get("activation")
        extra = f"\n{activation}" if activation not in (None, "identity") else ""
        ax.text(x, y, f"{n}\n{d['kind']} {d['size']}{extra}", ha="center", va="center", fontsize=8, zorder=3,
                bbox=dict(boxstyle="square,pad=0.5" if d["stateful"] else "round,pad=0.5",
                          facecolor=d["colour"], edgecolor="#555555"))
    ax.set_xlim(-1.2, 2.2 * (len(columns) - 1) + 1.2)
    ax.set_ylim(-tallest / 2 - 0.5, tallest / 2 + 1.0)
    ax.set_title(g.graph.get("name", "circuit"), parse_math=False)  # a '$' in a name is text, not TeX
    ax.axis("off")
    kinds = {d["kind"]: d["colour"] for _, d in sorted(g.nodes(data=True))}   # the kinds this circuit has
    legend = [Patch(facecolor=c, edgecolor="#555555", label=k) for k, c in kinds.items()]
    legend += [Line2D([], [], color=c, linestyle=styles[s], label=what)
               for what, s, c in (("learned", "solid", "#000000"), ("fixed random", "dashed", "#7f7f7f"),
                                  ("tied (shared storage)", "dashed", "#1f77b4"), ("identity", "solid", "#7f7f7f"),
                                  ("lateral", "bold", "#d62728"), ("error's target", "dotted", "#999999"))]
    fig.legend(handles=legend, loc="lower center", ncol=5, fontsize=7, frameon=False)
    if phases:
        fig.text((width - panel + 0.1) / width, 0.88, "\n".join(phases), fontsize=7, va="top", family="monospace",
                 parse_math=False)
    fig.savefig(path)
    plt.close(fig)
