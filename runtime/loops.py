"""Elementwise statements as syntax trees, and the loop nests the code generator fuses them into.

A statement is one line of a loop body over (r, c), held as a Python ``ast`` tree: most write one
element, ``target[r, c] = value`` or ``target[r, c] += value``. Keeping values in locals across a
fused body, dropping stores nothing reads, casting literals to float32 and finding the helpers a
body calls are transformations of these trees; text is made once, by :meth:`LoopNest.render`.
"""
from __future__ import annotations

import ast
import copy
import io
import tokenize
from dataclasses import dataclass, field

_AUGMENTED = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def statement(text: str) -> list[ast.stmt]:
    """The statements of a line (or lines) of loop body written by the generator."""
    return ast.parse(text).body


def expression(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def element_array(node) -> str | None:
    """The array of an element ``X[r, c]`` (None for anything else, e.g. ``X[0, c]``)."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        return None
    index = node.slice
    if (isinstance(index, ast.Tuple) and len(index.elts) == 2
            and [getattr(e, "id", None) for e in index.elts] == ["r", "c"]):
        return node.value.id
    return None


def element_store(stmt) -> tuple[str, ast.operator | None, ast.expr] | None:
    """(array, augmented operator or None, value) of a statement writing ``X[r, c]``."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and element_array(stmt.targets[0]):
        return element_array(stmt.targets[0]), None, stmt.value
    if isinstance(stmt, ast.AugAssign) and element_array(stmt.target) and type(stmt.op) in _AUGMENTED:
        return element_array(stmt.target), stmt.op, stmt.value
    return None


def names(node) -> set[str]:
    """Every identifier a tree mentions."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def calls(node) -> set[str]:
    """The functions a tree calls, dotted (``np.exp``, ``mix32``)."""
    return {ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}


def text_names(line: str) -> set[str]:
    """Every identifier in a line of generated text (a block header need not be complete)."""
    tokens = tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline)
    found = set()
    try:
        found |= {t.string for t in tokens if t.type == tokenize.NAME}
    except tokenize.TokenError:   # an open bracket at the end of a partial line: what came before counts
        pass
    return found


class _ElementsToLocals(ast.NodeTransformer):
    """Reads of ``X[r, c]`` (or ``X[r, 0]``, ``X[0, c]`` … any index) replaced by a local, per array."""

    def __init__(self, locals_, any_index=False):
        self.locals, self.any_index = locals_, any_index

    def visit_Subscript(self, node):
        array = element_array(node) if not self.any_index else getattr(node.value, "id", None)
        if array in self.locals and isinstance(node.ctx, ast.Load):
            return ast.Name(self.locals[array], ast.Load())
        return self.generic_visit(node)


def with_locals(tree, locals_: dict, any_index=False):
    """A copy of ``tree`` reading each array of ``locals_`` from its local instead."""
    return _ElementsToLocals(locals_, any_index).visit(_copy(tree)) if locals_ else tree


class _Float32Literals(ast.NodeTransformer):
    def visit_Call(self, node):
        if ast.unparse(node.func) == "np.float32" and all(isinstance(a, ast.Constant) for a in node.args):
            return node   # already cast
        return self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, float):
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "float32", ast.Load()), [node], [])
        return node


def float32_literals(tree):
    """A copy of ``tree`` with every float literal cast to float32: a bare literal would make numba
    compute in float64, where numpy computes a float32 array's arithmetic in float32."""
    return ast.fix_missing_locations(_Float32Literals().visit(_copy(tree)))


_copy = copy.deepcopy


def through_locals(body: list[ast.stmt]) -> list[ast.stmt]:
    """Rewrite a fused loop body so that a value one statement writes and a later one reads is
    kept in a local, and each array element is stored once, after its last write: a re-read or
    a repeated store of an array the compiler must assume may alias blocks vectorising."""
    stores = [element_store(s) for s in body]
    last_write = {store[0]: i for i, store in enumerate(stores) if store}
    reused = set()
    for i, store in enumerate(stores):
        if store and any(store[0] in _element_reads(s) or (later and later[0] == store[0])
                         for s, later in zip(body[i + 1:], stores[i + 1:])):
            reused.add(store[0])
    out, local = [], {}
    for i, (stmt, store) in enumerate(zip(body, stores)):
        if not store:
            out.append(with_locals(stmt, local))
            continue
        array, op, value = store
        value = with_locals(value, local)
        if op is not None:
            current = ast.Name(local[array], ast.Load()) if array in local else _element(array)
            value = ast.BinOp(current, op, value)
        if array in reused:
            local[array] = f"v_{array}"
            out.append(ast.Assign([ast.Name(local[array], ast.Store())], value))
            if last_write[array] == i:
                out.append(ast.Assign([_element(array, ast.Store())], ast.Name(local[array], ast.Load())))
        else:
            out.append(ast.Assign([_element(array, ast.Store())], value))
    return [ast.fix_missing_locations(s) for s in out]


def _element_reads(stmt) -> set[str]:
    """The arrays a statement reads at [r, c]."""
    return {element_array(n) for n in ast.walk(stmt)
            if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load) and element_array(n)}


def _element(array, ctx=None):
    index = ast.Tuple([ast.Name("r", ast.Load()), ast.Name("c", ast.Load())], ast.Load())
    return ast.Subscript(ast.Name(array, ast.Load()), index, ctx or ast.Load())


@dataclass
class LoopNest:
    """``for r in range(rows): for c in range(cols): body`` at an indentation level."""

    rows: str
    cols: int
    body: list = field(default_factory=list)
    indent: int = 0

    def mentions(self) -> list[set[str]]:
        return [names(s) for s in self.body]

    def render(self) -> list[str]:
        pad = "    " * self.indent
        lines = [f"{pad}for r in range({self.rows}):", f"{pad}    for c in range({self.cols}):"]
        for stmt in self.body:
            lines += [f"{pad}        {line}" for line in ast.unparse(stmt).splitlines()]
        return lines


def without_dead_stores(items: list, scratch: set[str]) -> list:
    """Drop the stores of scratch arrays that nothing else mentions: the loop that writes such a
    value also consumes it (from a local), and nothing reads the array afterwards. ``items`` are
    lines of text and loop nests; a nest left with an empty body goes too."""
    mentions = []   # one set of names per text line or nest statement
    for item in items:
        mentions += item.mentions() if isinstance(item, LoopNest) else [text_names(item)]
    count = {name: sum(name in m for m in mentions) for name in scratch}
    out = []
    for item in items:
        if isinstance(item, LoopNest):
            body = [s for s in item.body if not _dead(s, count)]
            if not body:
                continue
            item = LoopNest(item.rows, item.cols, body, item.indent)
        out.append(item)
    return out


def _dead(stmt, count):
    store = element_store(stmt)
    return bool(store) and count.get(store[0]) == 1


def render(items: list) -> list[str]:
    lines = []
    for item in items:
        lines += item.render() if isinstance(item, LoopNest) else [item]
    return lines
