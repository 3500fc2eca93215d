"""The ngdsl command as a user runs it: run, check, viz (both renderers), inspect."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

import ngdsl
from ngdsl.viz import have_graphviz

from conftest import run_cli, spec_path


def test_run_trains_and_writes_a_run_directory(tmp_path):
    result = run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2" in result.stderr                      # progress bar per epoch
    assert "test_accuracy" in result.stdout and "compile time" in result.stdout and "run time" in result.stdout
    (run,) = os.listdir(tmp_path)
    run = tmp_path / run
    assert sorted(os.listdir(run)) == ["manifest.json", "metrics.jsonl", "plots", "run.lock", "spec.resolved.yaml",
                                 "weights.npz"]
    # digits are 8x8 images: the first layer's weights are drawn as receptive fields too
    assert sorted(os.listdir(run / "plots")) == ["learning_curve.png", "receptive_fields_W1.png"]
    assert (run / "plots" / "receptive_fields_W1.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["epochs_completed"] == 2
    assert set(manifest["timings"]) == {"compile_seconds", "kernel_cache", "run_seconds", "threads", "threads_in_use"}
    assert manifest["timings"]["kernel_cache"] in ("cold", "warm")
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2]
    with np.load(run / "weights.npz", allow_pickle=False) as w:
        assert {"param:W1", "param:W2", "param:W1.bias", "param:W2.bias", "epoch"} <= set(w.files)
    resolved = (run / "spec.resolved.yaml").read_text()
    assert "test_fraction: 0.2" in resolved and "dist: xavier" in resolved   # defaults made visible


def _png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_a_maps_units_are_drawn_in_their_lattice_places_and_a_dbm_draws_its_fantasies(tmp_path):
    result = run_cli("run", spec_path("som_digits.yaml"), "--quiet", "--epochs", "1", "--out", str(tmp_path / "som"))
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path / "som")
    # all 100 fields on the 10 × 10 lattice: the figure is 1.1 in a column + 1, 1.1 in a row + 0.6 (8 × 8 would cap at 64)
    width, height = _png_size(tmp_path / "som" / run / "plots" / "receptive_fields_W.png")
    assert abs(width / height - 12.0 / 11.6) < 0.003   # 8 × 8 fields: 9.8 / 9.4, 0.008 away
    result = run_cli("run", spec_path("dbm_digits.yaml"), "--quiet", "--epochs", "1", "--out", str(tmp_path / "dbm"))
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path / "dbm")
    assert os.path.getsize(tmp_path / "dbm" / run / "plots" / "samples.png") > 1000


def test_run_of_a_settling_circuit_plots_its_energy_and_drawing_changes_nothing(tmp_path):
    """The energy is measured before training too (for the plot); a run without plots trains the
    same weights bit for bit, and the summary gives the best epoch beside the last."""
    result = run_cli("run", spec_path("pcd_digits.yaml"), "--epochs", "3", "--out", str(tmp_path / "a"), "--quiet")
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path / "a")
    plots = tmp_path / "a" / run / "plots"
    assert "settling_energy.png" in os.listdir(plots) and "learning_curve.png" in os.listdir(plots)
    assert (plots / "settling_energy.png").read_bytes().startswith(b"\x89PNG")
    bare = run_cli("run", spec_path("pcd_digits.yaml"), "--epochs", "3", "--out", str(tmp_path / "b"), "--quiet",
                   "--no-plots")
    (other,) = os.listdir(tmp_path / "b")
    assert not os.listdir(tmp_path / "b" / other / "plots")
    with np.load(tmp_path / "a" / run / "weights.npz") as a, np.load(tmp_path / "b" / other / "weights.npz") as b:
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    history = [json.loads(line) for line in (tmp_path / "a" / run / "metrics.jsonl").read_text().splitlines()]
    best = max(history, key=lambda h: h["test_accuracy"])
    line = next(l for l in result.stdout.splitlines() if l.startswith("test_accuracy"))
    assert line.split() == ["test_accuracy", f"{history[-1]['test_accuracy']:.4f}", f"{best['test_accuracy']:.4f}",
                            f"({best['epoch']})"]
    assert bare.stdout.splitlines()[0].split() == ["metric", "last", "best", "(epoch)"]


def test_run_with_set_override(tmp_path):
    result = run_cli("run", spec_path("eqprop_xor.yaml"), "--set", "train.epochs=3", "--out", str(tmp_path),
                     "--quiet")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^epochs +3 *$", result.stdout, re.M)


def test_check_ok():
    result = run_cli("check", spec_path("pc_digits.yaml"))
    assert result.returncode == 0
    assert "ok — 5 components, 3 cables" in result.stdout


@pytest.mark.parametrize("ext", ["svg", "png", "dot"])
@pytest.mark.parametrize("renderer", ["graphviz", "matplotlib"])
def test_viz(tmp_path, ext, renderer):
    if renderer == "graphviz" and not have_graphviz():
        pytest.skip("Graphviz is not installed (.ci/run installs it)")
    out = tmp_path / f"circuit.{ext}"
    result = run_cli("viz", spec_path("eqprop_xor.yaml"), "-o", str(out), "--renderer", renderer)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    if ext == "png":
        assert data.startswith(b"\x89PNG")
    elif ext == "svg":
        assert b"<svg" in data
        if renderer == "graphviz":  # labelled with cables and rules, the tied cable forming a cycle
            assert b"W2t = W2" in data and b"[contrastive]" in data
    else:
        text = data.decode()
        assert '"h" -> "o"' in text and '"o" -> "h"' in text and "style=dashed" in text


def test_a_circuit_that_reads_out_images_plots_its_reconstructions(tmp_path):
    result = run_cli("run", spec_path("denoise_digits.yaml"), "--epochs", "1", "--out", str(tmp_path), "--quiet")
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path)
    assert (tmp_path / run / "plots" / "reconstructions.png").read_bytes().startswith(b"\x89PNG")


def test_a_generative_circuit_plots_samples_from_its_prior_and_reports_their_likelihood(tmp_path):
    result = run_cli("run", spec_path("gncn_t1_digits.yaml"), "--epochs", "1", "--out", str(tmp_path), "--quiet")
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path)
    assert (tmp_path / run / "plots" / "samples.png").read_bytes().startswith(b"\x89PNG")
    with open(tmp_path / run / "manifest.json", encoding="utf-8") as f:
        final = json.load(f)["final"]
    assert -40 < final["test_log_px"] < 0   # after one epoch (about −27.5) well above ½ everywhere (−44.4 nats)
    resolved = tmp_path / run / "spec.resolved.yaml"
    assert yaml.safe_load(resolved.read_text())["prior"] == {"components": 10, "draws": 1000}
    checked = run_cli("check", str(resolved))   # the defaults made visible are still a spec
    assert checked.returncode == 0, checked.stderr


def test_the_matplotlib_drawing_labels_cables_gates_phases_and_its_legend(tmp_path):
    out = tmp_path / "circuit.svg"
    result = run_cli("viz", spec_path("eqprop_xor.yaml"), "-o", str(out), "--renderer", "matplotlib")
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for expected in ("W2t = W2ᵀ", "⊙ h.dphi", "[contrastive]", "nudged: 15 steps; clamp x = data.x; nudge o → data.y (β 0.5)",
                     "update W1, W2", "tied (shared storage)", "error's target"):
        assert expected in text, expected


def test_the_layout_puts_each_component_at_its_distance_from_the_inputs():
    from ngdsl.viz import layers
    pc = ngdsl.load(spec_path("pc_digits.yaml")).graph          # x → e1 ⇄ z1 → e2 ⇄ z2: a chain
    assert layers(pc) == [["x"], ["e1"], ["z1"], ["e2"], ["z2"]]


def test_viz_rejects_unknown_format(tmp_path):
    result = run_cli("viz", spec_path("eqprop_xor.yaml"), "-o", str(tmp_path / "c.pdf"))
    assert result.returncode == 2
    assert "error: cannot draw to '.pdf': use .svg, .png, .dot, .graphml, .json" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("ext", ["graphml", "json"])
def test_viz_exports_the_graph_for_other_tools(tmp_path, ext):
    import networkx as nx
    out = tmp_path / f"circuit.{ext}"
    result = run_cli("viz", spec_path("eqprop_xor.yaml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    g = (nx.read_graphml(out, force_multigraph=True) if ext == "graphml"
         else nx.node_link_graph(json.loads(out.read_text()), edges="edges"))
    edges = {k: (u, v, d) for u, v, k, d in g.edges(keys=True, data=True)}
    compiled = ngdsl.load(spec_path("eqprop_xor.yaml")).graph
    assert set(g.nodes) == set(compiled.nodes) and set(edges) == {k for *_, k in compiled.edges(keys=True)}
    u, v, d = edges["W2t"]       # the tied transpose: o → h, sharing W2's storage
    assert (u, v, d["transform"], d["tied"], d["transpose"]) == ("o", "h", "tied", "W2", True)
    assert g.nodes["h"]["kind"] == compiled.nodes["h"]["kind"] and g.nodes["h"]["size"] == compiled.nodes["h"]["size"]


def test_inspect_shows_plan():
    result = run_cli("inspect", spec_path("pc_digits.yaml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "parameters: 9610 (9610 learnable)" in out
    assert "phase 'settle': 20 step(s)" in out
    assert "z2.z = data.y   (clamp)" in out
    # W1·x depends only on the clamped input: computed once per phase, not in the step loop
    every_step = out.split("every step:")[1].split("after the last step:")[0]
    assert "W1.product" not in every_step and "W2.product = W2·z1.phi" in every_step
    assert "(used only within a step: W2.product, W2t.product, e1.e, e2.e, e2.mu, z1.in)" in every_step
    # products first, then the elementwise work of z1 together (one fused loop)
    assert every_step.index("W2t.product = W2ᵀ·e2.e") < every_step.index("e1.e = (z1.z − e1.mu)") \
        < every_step.index("z1.in ⇐ W2t.product ⊙ z1.dphi   [W2t]") < every_step.index("z1.phi = relu(z1.z)")
    assert "update W1 [hebbian]: ΔW = +1·⟨e1.e ⊗ x.z⟩" in out


def test_inspect_code_shows_generated_kernels():
    result = run_cli("inspect", spec_path("bp_digits.yaml"), "--code")
    assert result.returncode == 0, result.stderr
    assert "def train_0(" in result.stdout and "matmul(" in result.stdout


def _weights(run_dir):
    with np.load(os.path.join(run_dir, "weights.npz")) as w:
        return {k: w[k] for k in w.files}


def _metrics(run_dir):
    lines = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines]


@pytest.mark.parametrize("spec", ["pc_digits.yaml", "eqprop_xor.yaml", "rbm_digits.yaml", "pcd_digits.yaml",
                                  "denoise_digits.yaml", "sa_rastrigin.yaml"])
# random draws, persistent chains, derived streams, a scheduled constant
def test_resume_continues_bit_identically(tmp_path, spec):
    straight, split = tmp_path / "straight", tmp_path / "split"
    quiet = ("--quiet", "--no-plots")   # what is compared is the weights and the metrics
    assert run_cli("run", spec_path(spec), "--epochs", "4", "--out", str(straight), *quiet).returncode == 0
    assert run_cli("run", spec_path(spec), "--epochs", "2", "--out", str(split), *quiet).returncode == 0
    (first,), (second,) = os.listdir(straight), os.listdir(split)
    result = run_cli("run", spec_path(spec), "--epochs", "4", "--resume", str(split / second), *quiet)
    assert result.returncode == 0, result.stderr
    a, b = _weights(straight / first), _weights(split / second)
    assert a.keys() == b.keys() and int(b["epoch"]) == 4
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)   # Adam's moments included
    assert _metrics(straight / first) == _metrics(split / second)


def test_resume_refuses_a_changed_spec(tmp_path):
    assert run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "1", "--out", str(tmp_path), "--quiet",
                   "--no-plots").returncode == 0
    (run,) = os.listdir(tmp_path)
    result = run_cli("run", spec_path("eqprop_xor.yaml"), "--set", "components.h.size=6", "--resume",
                     str(tmp_path / run), "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the spec differs from that run's at 'components.h.size'" in result.stderr


def test_check_and_inspect_report_memory_and_max_memory_refuses(tmp_path):
    path = spec_path("pc_digits.yaml")
    checked = run_cli("check", path)
    assert checked.returncode == 0 and re.search(r"memory about [\d.]+ MB \(parameters [\d.]+ KB", checked.stdout)
    assert re.search(r"^memory: about [\d.]+ MB", run_cli("inspect", path).stdout, re.M)
    refused = run_cli("check", path, "--max-memory", "1M")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "but the budget is 1.0 MB; the largest part is the data" in refused.stderr
    bad = run_cli("check", path, "--max-memory", "lots")
    assert bad.returncode == 2 and "'lots' is not a size like 8G, 512M or 1000000" in bad.stderr


def test_version_and_a_run_without_plots(tmp_path):
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"ngdsl {ngdsl.__version__}"
    result = run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "1", "--out", str(tmp_path), "--quiet",
                     "--no-plots")
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path)
    assert os.listdir(tmp_path / run / "plots") == [] and (tmp_path / run / "weights.npz").exists()


def test_help_and_version_answer_without_loading_the_compiler_or_numba():
    """``ngdsl --help`` took 1.9 s when it imported everything; it now loads none of the heavy parts."""
    probe = ("import sys, io, contextlib\nfrom ngdsl import cli\n"
             "for argv in (['--help'], ['--version'], ['run', '--help']):\n"
             "    with contextlib.redirect_stdout(io.StringIO()):\n"
             "        try: cli.main(argv)\n"
             "        except SystemExit: pass\n"
             "print(sorted(m for m in ('numba', 'numpy', 'networkx', 'jsonschema', 'ngdsl.compiler') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
