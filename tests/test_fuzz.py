"""Fuzzing the compiler with mutated shipped specs: whatever a spec holds, the only way out is a
compiled plan whose generated code parses, or a SpecError whose every diagnostic has a place."""
import copy
import glob
import math
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ngdsl.compiler import SpecError, compile_text
from ngdsl.runtime import codegen

from conftest import SPECS

SPEC_TEXTS = {os.path.basename(p): open(p, encoding="utf-8").read() for p in sorted(glob.glob(f"{SPECS}/*.yaml"))}
ODD_VALUES = [None, True, 0, -1, 2.5, 2.0, 10 ** 12, 2 ** 64, -10 ** 9, math.nan, math.inf, -math.inf, "", "x",
              "é中文", "a__b", "z1\n", "../../x", "data.x", "data.z", "nope.phi", "z1.nope", "W1@snap", "$\\x{", [],
              [1, 2], {}, {"a": 1}, {"hebbian": {"scale": "x"}}, "1e308", ".nan", "!!python/name:os.system"]
ODD_KEYS = ["", "x", "__", "a__b", "é", "size", "kind", "rule", "0", "W1", "z1", "bias", "target", "lr"]


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, path + (i,))


def _mutate(data, draw):
    paths = list(_paths(data))[1:]
    path = draw(st.sampled_from(paths))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key, op = path[-1], draw(st.sampled_from(["delete", "rename", "replace", "swap", "duplicate"]))
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[draw(st.sampled_from(ODD_KEYS))] = parent.pop(key)
    elif op == "replace":
        value = draw(st.sampled_from(ODD_VALUES) | st.integers() | st.floats() | st.text(max_size=12))
        parent[key] = copy.deepcopy(value)   # later mutations must not change the shared list of values
    elif op == "swap":
        other = draw(st.sampled_from(paths))
        value = data
        for k in other:
            value = value[k] if isinstance(value, (dict, list)) and k in (value if isinstance(value, dict)
                                                                          else range(len(value))) else None
        parent[key] = yaml.safe_load(yaml.safe_dump(value))
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(yaml.safe_load(yaml.safe_dump(parent[key])))


def _text_mutation(text, draw):
    lines = text.splitlines()
    i = draw(st.integers(0, len(lines) - 1))
    op = draw(st.sampled_from(["duplicate line", "drop line", "insert", "truncate"]))
    if op == "duplicate line":
        lines.insert(i, lines[i])
    elif op == "drop line":
        del lines[i]
    elif op == "insert":
        line = lines[i]
        at = draw(st.integers(0, len(line)))
        lines[i] = line[:at] + draw(st.sampled_from(["{", "}", "[", ":", "&a ", "*a", "!!int ", "\t", "'", "#", "\0"]))\
            + line[at:]
    else:
        return "\n".join(lines)[:draw(st.integers(0, len(text)))]
    return "\n".join(lines) + "\n"


def check_one(text):
    """Compile ``text``: success with code that parses, or located SpecErrors; nothing else."""
    try:
        compiled = compile_text(text, "spec.yaml", SPECS, max_memory=1 << 30)
    except SpecError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.file == "spec.yaml" and d.line >= 1 and d.col >= 1, str(d)
        return "error"
    source, _, _ = codegen.generate(compiled.plan)
    compile(source, "<generated>", "exec")   # the generated module is valid Python
    return "ok"


@st.composite
def mutated_specs(draw):
    text = SPEC_TEXTS[draw(st.sampled_from(sorted(SPEC_TEXTS)))]
    if draw(st.booleans()):
        return _text_mutation(text, draw)
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        _mutate(data, draw)
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return text


def _fuzz(examples):
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(mutated_specs())
    def run(text):
        check_one(text)
    run()


def test_mutated_specs_give_a_plan_or_located_errors():
    # CI runs 1000 examples (about 40 s); a longer search: NGDSL_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py
    _fuzz(int(os.environ.get("NGDSL_FUZZ_EXAMPLES", "1000")))
