"""Drawing the compiled circuit: Graphviz when its ``dot`` is installed, matplotlib otherwise."""
from __future__ import annotations

import os
import shutil
import subprocess

NODE_COLOURS = {"input": "#9ecae1", "state": "#fdd085", "error": "#f4a3a3", "rate": "#a1d99b"}


def edge_style(d):
    """(Graphviz style, colour, label) of a cable by its transform and role."""
    if d.get("implied"):
        return "dotted", "#999999", ""
    label = d["key"]
    if d["transform"] == "tied":
        label += f" = {d['tied']}{'ᵀ' if d['transpose'] else ''}"
    if d.get("rule") and d["rule"] != "none":
        label += f"\\n[{d['rule']}]"
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
        extra = f"\\n{d.get('activation')}" if d.get("activation") not in (None, "identity") else ""
        lines.append(f'  "{n}" [label="{n}\\n{d["kind"]} {d["size"]}{extra}", shape={shape}, '
                     f'fillcolor="{NODE_COLOURS[d["kind"]]}"];')
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


def draw(g, path, renderer="auto") -> str:
    """Write the circuit to ``path``: a picture (.svg, .png) or the graph itself (.dot, .graphml,
    .json); returns the renderer or format used."""
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
    _draw_matplotlib(g, path)
    return "matplotlib"


def _draw_matplotlib(g, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    fig, ax = plt.subplots(figsize=(9, 6))
    try:
        layers = {n: i for i, gen in enumerate(nx.topological_generations(nx.DiGraph(
            [(u, v) for u, v, d in g.edges(data=True) if not d.get("implied") and d["transform"] != "tied"]))) for n in gen}
    except nx.NetworkXUnfeasible:
        layers = {}
    for n in g.nodes:
        g.nodes[n]["_layer"] = layers.get(n, 0)
    pos = nx.multipartite_layout(g, subset_key="_layer")
    for n in g.nodes:
        del g.nodes[n]["_layer"]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=1600,
                           node_color=[NODE_COLOURS[d["kind"]] for _, d in g.nodes(data=True)],
                           node_shape="s")
    nx.draw_networkx_labels(g, pos, ax=ax, labels={n: f"{n}\n{d['kind']} {d['size']}" for n, d in g.nodes(data=True)},
                            font_size=8)
    seen = {}
    for u, v, k, d in g.edges(keys=True, data=True):
        style, colour, label = edge_style({**d, "key": k})
        rad = 0.15 * (1 + seen.get((u, v), 0)) * (1 if u <= v else -1)
        seen[(u, v)] = seen.get((u, v), 0) + 1
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=[(u, v)], edge_color=colour, node_size=1600,
                               style={"dotted": ":", "dashed": "--", "bold": "-", "solid": "-"}[style],
                               width=2.5 if style == "bold" else 1.2, connectionstyle=f"arc3,rad={rad}",
                               arrows=True, arrowsize=15)
        if label:
            (x1, y1), (x2, y2) = pos[u], pos[v]
            ax.text((x1 + x2) / 2 + rad * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1), label.replace("\\n", "\n"),
                    fontsize=7, color=colour, ha="center")
    ax.set_title(g.graph.get("name", "circuit"), parse_math=False)  # a '$' in a name is text, not TeX
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
