"""Golden tests: every class of spec mistake gets an exact message at file:line:col."""
import pytest

import ngdsl

from ngdsl.compiler import SpecError, compile_text

from conftest import run_cli, spec_path

BASE = """ngdsl: 1
name: t
data: {dataset: digits, batch: 8}
components:
  x:  {kind: input, size: 64}
  y:  {kind: input, size: 10}
  h:  {kind: rate, size: 16, activation: tanh}
  o:  {kind: error, target: y, loss: softmax}
  d:  {kind: rate, size: 16}
cables:
  W1: {from: x, to: h, rule: {hebbian: {post: d}}}
  W2: {from: h, to: o.mu, rule: hebbian}
  W2t: {from: o, to: d, tied: W2, transpose: true, gate: h.dphi}
schedule:
  train:
    - {phase: sweep, steps: 0, clamp: {x: data.x, y: data.y}}
    - {update: [W1, W2]}
  predict:
    - {phase: sweep, steps: 0, clamp: {x: data.x}, read: o.mu}
metrics: [accuracy]
"""

CASES = {
    "yaml syntax": (
        ("activation: tanh}", "activation: tanh"),
        ["spec.yaml:8:4: error: YAML syntax: expected ',' or '}', but got ':' (while parsing a flow mapping that "
         "starts at line 7, column 7)"]),
    "a reconstruction metric with a readout unlike the input": (
        ("metrics: [accuracy]", "metrics: [bce]"),
        ["spec.yaml:19:58: error: readout 'o.mu' has size 10 but data.x has width 64; bce compares them"]),
    "a hold in the first phase": (
        ("clamp: {x: data.x}, read: o.mu}", "clamp: {x: hold}, read: o.mu}"),
        ["spec.yaml:19:43: error: 'x' holds the value the phases before left, but this is the first phase of "
         "schedule.predict: clamp it to data or a number"]),
    "a prior outside schedule.sample": (
        ("clamp: {x: data.x}, read: o.mu}", "clamp: {x: prior}, read: o.mu}"),
        ["spec.yaml:19:43: error: 'x' is clamped to a draw of the prior, which only schedule.sample generates from; "
         "here clamp it to data, a number or hold"]),
    "a likelihood without schedule.sample": (
        ("metrics: [accuracy]", "metrics: [accuracy, log_px]"),
        ["spec.yaml:20:21: error: log_px needs a schedule.sample that generates from the prior (a phase of it clamps "
         "a state to prior and reads the sample)"]),
    "data in schedule.sample": (
        ("read: o.mu}\n", "read: o.mu}\n  sample:\n    - {phase: dream, steps: 0, clamp: {x: data.x}, read: h}\n"),
        ["spec.yaml:21:5: error: schedule.sample generates from draws of the prior: clamp exactly one input or state "
         "to prior (it clamps none)",
         "spec.yaml:21:43: error: schedule.sample generates from draws of the prior and reads no data; clamp 'x' to "
         "prior, a number or hold"]),
    "a sample unlike the data, held against it": (
        ("read: o.mu}\nmetrics: [accuracy]", "read: o.mu}\n  sample:\n    - {phase: dream, steps: 0, clamp: {x: prior}, "
                                            "read: h}\nmetrics: [log_px]"),
        ["spec.yaml:21:57: error: the sample 'h.phi' has size 16 but data.x has width 64; log_px holds them against "
         "each other"]),
    "a monitored dream beside schedule.sample": (
        ("read: o.mu}\nmetrics: [accuracy]", "read: o.mu}\n  sample:\n    - {phase: dream, steps: 0, clamp: {x: prior}, "
                                            "read: h}\nmonitors: {samples: h}\nmetrics: [accuracy]"),
        ["spec.yaml:22:12: error: schedule.sample draws plots/samples.png from the prior; monitor the generated "
         "compartment with record instead"]),
    "schedule.encode without schedule.sample": (
        ("read: o.mu}\n", "read: o.mu}\n  encode:\n    - {phase: settle, steps: 0, clamp: {x: data.x}}\n"),
        ["spec.yaml:20:3: error: schedule.encode settles the state schedule.sample draws, to fit its prior; this spec "
         "has no schedule.sample"]),
    "a read in schedule.encode": (
        ("read: o.mu}\nmetrics: [accuracy]", "read: o.mu}\n  sample:\n    - {phase: dream, steps: 0, clamp: {x: prior}, "
                                            "read: h}\n  encode:\n    - {phase: settle, steps: 0, clamp: {x: data.x}, "
                                            "read: h}\nmetrics: [accuracy]"),
        ["spec.yaml:23:53: error: schedule.encode reads nothing: the prior is fitted to the state schedule.sample "
         "clamps to prior, where the last phase of encode leaves it"]),
    "weights changed in schedule.encode": (
        ("read: o.mu}\nmetrics: [accuracy]", "read: o.mu}\n  sample:\n    - {phase: dream, steps: 0, clamp: {x: prior}, "
                                            "read: h}\n  encode:\n    - {phase: settle, steps: 0, clamp: {x: data.x}, "
                                            "accumulate: [W1]}\nmetrics: [accuracy]"),
        ["spec.yaml:23:66: error: 'encode' cannot change weights; accumulate belongs in schedule.train"]),
    "prior settings without schedule.sample": (
        ("metrics: [accuracy]", "prior: {components: 3}\nmetrics: [accuracy]"),
        ["spec.yaml:20:1: error: prior sets the mixture schedule.sample draws from; this spec has no schedule.sample"]),
    "a stream's parameter out of range": (
        ("data: {dataset: digits, batch: 8}", "data: {dataset: digits, batch: 8, streams: {dropped: {masked: x, p: 0}}}"),
        ["spec.yaml:3:69: error: data/streams/dropped/p must be > 0, not 0"]),
    "unknown key": (
        ("activation: tanh}", "activaton: tanh}"),
        ["spec.yaml:7:30: error: unknown key 'activaton' in components/h (did you mean 'activation'?)"]),
    "wrong enum": (
        ("activation: tanh}", "activation: tahn}"),
        ["spec.yaml:7:42: error: 'tahn' is not one of identity, tanh, sigmoid, relu, hard_sigmoid, step in "
         "components/h/activation (did you mean 'tanh'?)"]),
    "wrong type": (
        ("size: 16, activation", "size: sixteen, activation"),
        ["spec.yaml:7:26: error: components/h/size must be an integer, not 'sixteen'"]),
    "unknown component": (
        ("{from: h, to: o.mu", "{from: hh, to: o.mu"),
        ["spec.yaml:12:14: error: cable 'W2' reads 'hh' but there is no component 'hh' (did you mean 'h'?)"]),
    "unknown compartment": (
        ("gate: h.dphi", "gate: h.dphi2"),
        ["spec.yaml:13:58: error: cable 'W2t' is gated by 'h.dphi2' but component 'h' (rate) has no compartment "
         "'dphi2' (did you mean 'dphi'?); it has phi, z, dphi, s"]),
    "unknown cable": (
        ("update: [W1, W2]", "update: [W1, W2, W22]"),
        ["spec.yaml:17:25: error: update names no cable 'W22' (did you mean 'W2'?)"]),
    "unknown snapshot": (
        ("rule: hebbian}", "rule: {contrastive: {positive: plus, negative: minus}}}"),
        ["spec.yaml:12:47: error: the rule of 'W2' uses snapshot 'plus', which no phase before its update takes "
         "(snapshots taken: none)",
         "spec.yaml:12:47: error: the rule of 'W2' uses snapshot 'minus', which no phase before its update takes "
         "(snapshots taken: none)"]),
    "tied shape and sizes": (
        ("  d:  {kind: rate, size: 16}", "  d:  {kind: rate, size: 12}"),
        ["spec.yaml:11:47: error: post factor 'd.phi' has size 12; cable 'W1' needs 16",
         "spec.yaml:13:31: error: cable 'W2t' is tied to the transpose of 'W2' (10x16), so it maps size 10 to 16, "
         "but it joins 'o.e' (10) to 'd.z' (12)",
         "spec.yaml:13:58: error: gate 'h.dphi' has size 16 but cable 'W2t' delivers 12"]),
    "cable size": (
        ("  W2t:", "  I: {from: x, to: h, transform: identity}\n  W2t:"),
        ["spec.yaml:13:6: error: identity cable 'I' joins sizes 64 and 16; they must be equal"]),
    "clamp width": (
        ("  x:  {kind: input, size: 64}", "  x:  {kind: input, size: 60}"),
        ["spec.yaml:16:43: error: clamp of 'x' (size 60) to data.x (width 64): the widths differ",
         "spec.yaml:19:43: error: clamp of 'x' (size 60) to data.x (width 64): the widths differ"]),
    "readout width": (
        ("read: o.mu", "read: h"),
        ["spec.yaml:19:58: error: readout 'h.phi' has size 16 but data.y has width 10; accuracy compares them"]),
    "algebraic loop": (
        ("  W2t:", "  Wl: {from: d, to: h, transform: fixed}\n  W2t:"),
        ["spec.yaml:9:3: error: algebraic loop: d -> h -> o -> d is a cycle of instant components; make one of "
         "them a 'state' (a register) to break it"]),
    "algebraic loop through a gate": (   # h needs d's dphi before d can be computed from h
        ("  W1: {from: x, to: h, rule: {hebbian: {post: d}}}", "  W1: {from: x, to: h, gate: d.dphi, rule: {hebbian: {post: d}}}"),
        ["spec.yaml:9:3: error: algebraic loop: d -> h -> o -> d is a cycle of instant components; make one of "
         "them a 'state' (a register) to break it"]),
    "invalid name": (
        ("  W2t:", "  W-3: {from: x, to: h, rule: none}\n  W2t:"),
        ["spec.yaml:13:3: error: 'W-3' is not a valid name in cables (letters and digits, single '_' between them, "
         "one optional '.compartment')"]),
    # '__' is the code generator's separator: names holding it could collide once mangled
    "reserved separator in a name": (
        ("  d:  {kind: rate, size: 16}", "  d:  {kind: rate, size: 16}\n  q__s_r: {kind: rate, size: 2}"),
        ["spec.yaml:10:3: error: 'q__s_r' is not a valid name in components (letters and digits, single '_' between "
         "them, one optional '.compartment')"]),
    "trailing newline in a name": (
        ("  W2t:", '  "W3\\n": {from: x, to: h, rule: none}\n  W2t:'),
        ["spec.yaml:13:3: error: 'W3\\n' is not a valid name in cables (letters and digits, single '_' between them, "
         "one optional '.compartment')"]),
    "control characters are shown as escapes": (
        ("  W2t:", '  "W\\e[31m": {from: x, to: h, rule: none}\n  W2t:'),
        ["spec.yaml:13:3: error: 'W\\x1b[31m' is not a valid name in cables (letters and digits, single '_' "
         "between them, one optional '.compartment')"]),
    "prototypes from samples of an input that is not data": (
        ("W1: {from: x, to: h, rule: {hebbian: {post: d}}}",
         "W1: {from: x, to: h, rule: {hebbian: {post: d}}}\n  P: {from: h, to: d, init: {dist: samples}, rule: none}"),
        ["spec.yaml:12:36: error: cable 'P' starts its rows at data samples, so it must read a component that "
         "schedule.train clamps to data.x; 'h' is not"]),
    "fan with a distribution it does not size": (
        ("W1: {from: x, to: h, rule", "W1: {from: x, to: h, init: {dist: normal, fan: in}, rule"),
        ["spec.yaml:11:50: error: `fan` sizes the limit of a uniform draw; cable 'W1' draws from 'normal': use "
         "dist: uniform or drop fan"]),
    "whole-number float as a size": (
        ("size: 16, activation", "size: 16.0, activation"),
        ["spec.yaml:7:26: error: components/h/size must be an integer, not 16.0"]),
    "NaN where a number goes": (
        ("{dataset: digits, batch: 8}", "{dataset: digits, batch: 8, test_fraction: .nan}"),
        ["spec.yaml:3:50: error: data/test_fraction must be a number, not nan"]),
    "count beyond its bound": (
        ("size: 16, activation", "size: 100000000, activation"),
        ["spec.yaml:7:26: error: components/h/size must be <= 10000000, not 100000000"]),
    "tag on the wrong scalar": (
        ("size: 16, activation", "size: !!int abc, activation"),
        ["spec.yaml:7:26: error: 'abc' cannot be read as int"]),
    "a date where a name goes": (
        ("name: t", "name: 2026-11-30"),
        ["spec.yaml:2:7: error: a spec holds plain values, lists and mappings; '2026-11-30' is read as !!timestamp; "
         "quote it to make it a string"]),
    "plain-string rule without its required parameters": (
        ("W2: {from: h, to: o.mu, rule: hebbian}", "W2: {from: h, to: o.mu, rule: delta}"),
        ["spec.yaml:12:33: error: rule 'delta' needs 'target': write rule: {delta: {target: ...}}"]),
    "kwta larger than the layer": (
        ("size: 16, activation: tanh}", "size: 16, activation: tanh, kwta: 17}"),
        ["spec.yaml:7:54: error: component 'h' keeps the 17 largest of its 16 units active: kwta must be at most "
         "its size"]),
    "learnable cable without rule": (
        ("  W2t:", "  W3: {from: x, to: h}\n  W2t:"),
        ["spec.yaml:13:3: error: cable 'W3' is learnable but has no rule (add 'rule:', 'rule: none' to freeze it, "
         "or 'transform: fixed' for fixed random weights)"]),
    "rule never applied": (
        ("update: [W1, W2]", "update: [W1]"),
        ["spec.yaml:12:27: error: cable 'W2' has rule 'hebbian' but no update in schedule.train lists it (add it "
         "to an 'update:', or use 'rule: none')"]),
    "duplicated name": (
        ("  d:  {kind: rate, size: 16}", "  d:  {kind: rate, size: 16}\n  h:  {kind: rate, size: 8}"),
        ["spec.yaml:10:3: error: duplicated key 'h' (first at line 7, column 3)"]),
}


def test_spec_limits_are_located_errors():
    laughs = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))
    cases = {
        "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + laughs:
            "spec.yaml:6:5: error: the spec expands to more than 200000 values (through its aliases)",
        "a: " + "[" * 1000 + "]" * 1000: "spec.yaml:1:67: error: the spec nests deeper than 64 levels",
        b"name: t\xff\n": "spec.yaml:1:8: error: the spec is not UTF-8 text (byte 0xff)",
        "a: !!python/object/apply:os.system [ls]": "spec.yaml:1:4: error: a spec holds plain values, lists and "
                                                     "mappings; this value is read as !!python/object/apply:os.system",
        "a: 1\n" * 300_000: "spec.yaml:1:1: error: the spec is larger than 1024 KiB",
    }
    for text, message in cases.items():
        with pytest.raises(SpecError) as info:
            compile_text(text, "spec.yaml")
        assert [str(d) for d in info.value.diagnostics] == [message]


def test_base_spec_compiles():
    compile_text(BASE, "spec.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_message(case):
    (old, new), expected = CASES[case]
    assert old in BASE
    with pytest.raises(SpecError) as info:
        compile_text(BASE.replace(old, new, 1), "spec.yaml")
    assert [str(d) for d in info.value.diagnostics] == expected


def test_all_problems_of_a_pass_are_reported_together():
    text = BASE.replace("activation: tanh}", "activaton: tanh}").replace("loss: softmax", "loss: sofmax")
    with pytest.raises(SpecError) as info:
        compile_text(text, "spec.yaml")
    assert [d.line for d in info.value.diagnostics] == [7, 8]


def test_schema_and_reference_mistakes_are_reported_in_one_pass():
    text = BASE.replace("activation: tanh}", "activaton: tanh}").replace("{from: h, to: o.mu", "{from: hh, to: o.mu")
    with pytest.raises(SpecError) as info:
        compile_text(text, "spec.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "spec.yaml:7:30: error: unknown key 'activaton' in components/h (did you mean 'activation'?)",
        "spec.yaml:12:14: error: cable 'W2' reads 'hh' but there is no component 'hh' (did you mean 'h'?)"]
    # a rejected kind would take the whole component with it: no reference mistakes are guessed then
    text = BASE.replace("kind: rate, size: 16, activation", "kind: rat, size: 16, activation")
    with pytest.raises(SpecError) as info:
        compile_text(text.replace("{from: h, to: o.mu", "{from: hh, to: o.mu"), "spec.yaml")
    assert [d.line for d in info.value.diagnostics] == [7]


def test_cli_check_prints_diagnostics_without_traceback(write_spec):
    path = write_spec(BASE.replace("{from: h, to: o.mu", "{from: hh, to: o.mu"))
    result = run_cli("check", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{path}:12:14: error: cable 'W2' reads 'hh' but there is no component 'hh' (did you mean 'h'?)",
        "1 error"]


def test_unconnected_component_is_a_warning(write_spec):
    path = write_spec(BASE.replace("  d:  {kind: rate, size: 16}", "  d:  {kind: rate, size: 16}\n  u:  {kind: input, size: 3}"))
    result = run_cli("check", path)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"{path}:10:3: warning: component 'u' is connected to no cable; it takes part in nothing"]


def test_missing_spec_file_is_a_clean_error(tmp_path):
    result = run_cli("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot read the spec: No such file or directory" in result.stderr


@pytest.mark.parametrize("override, message", [
    ("train.epochs=[x", "'[x' is not a YAML value (YAML syntax: expected ',' or ']', but got '<stream end>' (while "
                        "parsing a flow sequence that starts at line 1, column 1))"),
    ("train.epochs", "write it as key=value"),
    ("train.nope.x=3", "no such place in the spec"),
    ("train.epoch=3", "unknown key 'epoch' in train (did you mean 'epochs'?)"),
    ("train.optimizer={sgd:{lr:0.01}}", "unknown key 'lr:0.01' in train/optimizer/sgd (YAML needs a space after ':' "
                                        "in a mapping: {sgd: {lr: 0.01}}, not {sgd:{lr:0.01}})"),
    ("train.epochs={a: 1, a: 2}", "'{a: 1, a: 2}' is not a YAML value (duplicated key 'a' (first at line 1, "
                                  "column 2))"),
])
def test_bad_set_overrides_are_located_in_the_argument(override, message):
    from conftest import spec_path
    path = spec_path("pc_digits.yaml")
    result = run_cli("check", path, "--set", override)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"--set {override}: error: {message}", "1 error"]


def test_a_mistake_in_the_file_keeps_its_position_under_overrides(write_spec):
    path = write_spec(BASE.replace("activation: tanh}", "activaton: tanh}"))
    with pytest.raises(SpecError) as info:
        ngdsl.load(path, set=["data.batch=4", "components.d.activation=tanh"])
    assert [str(d) for d in info.value.diagnostics] == [
        f"{path}:7:30: error: unknown key 'activaton' in components/h (did you mean 'activation'?)"]


def test_derive_names_its_functions_and_a_precision_needs_a_square_cable():
    from conftest import spec_path
    fixed = run_cli("check", spec_path("ss_digits.yaml"), "--set", "cables.W1.transform=fixed", "--set",
                    "cables.W1.derive=sign")
    assert fixed.returncode == 2 and "--set cables.W1.derive=sign: error: 'derive' does not apply to a fixed cable" in fixed.stderr
    unknown = run_cli("check", spec_path("ss_digits.yaml"), "--set", "cables.B2.derive=abs")
    assert unknown.returncode == 2 and "error: 'abs' is not one of sign, precision in cables/B2/derive" in unknown.stderr
    oblong = run_cli("check", spec_path("ss_digits.yaml"), "--set", "cables.W1.derive=precision")
    assert oblong.returncode == 2 and oblong.stderr.splitlines()[0] == (
        "--set cables.W1.derive=precision: error: a precision is the inverse of a square matrix; 'W1' is 128x64")


@pytest.mark.parametrize("old, new, message", [
    ("lattice: [10, 10]", "lattice: [10, 9]", "16:48: error: a 10 × 9 lattice has 90 places; component 'y' has 100 units"),
    ("kwta: 1, lattice: [10, 10]", "kwta: 1", "24:54: error: cable 'D' starts at distances on a lattice: it must be "
     "square and read a component with a lattice (e.g. lattice: [10, 10]); it is 100 × 100 from 'y', which has none"),
])
def test_a_lattice_is_the_size_of_its_component_and_lattice_distances_read_one(old, new, message):
    from conftest import spec_path
    with open(spec_path("som_digits.yaml"), encoding="utf-8") as f:
        text = f.read()
    assert old in text
    with pytest.raises(SpecError) as info:
        compile_text(text.replace(old, new), "spec.yaml")
    assert [str(d) for d in info.value.diagnostics] == [f"spec.yaml:{message}"]


def test_an_energy_needs_error_neurons():
    text = open(spec_path("hebb_digits.yaml"), encoding="utf-8").read().replace("metrics: [accuracy]",
                                                                                "metrics: [accuracy, energy]")
    with pytest.raises(SpecError) as info:
        compile_text(text, "spec.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "spec.yaml:25:21: error: energy sums the error neurons' ½·precision·‖target − mu‖² after a training trial "
        "settles; this circuit has no error components"]
