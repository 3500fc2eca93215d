"""A spec, a data file and a checkpoint are untrusted: none of them runs code, writes outside
--out, or gets past the checks with a traceback."""
import json
import os

import numpy as np
import pytest

import ngdsl
from ngdsl.compiler import SpecError, compile_file
from ngdsl.runtime import codegen
from ngdsl.runs import _digest
from ngdsl.viz import to_dot

from conftest import ROOT, load, run_cli, spec_path

XOR = open(spec_path("eqprop_xor.yaml"), encoding="utf-8").read()
HOSTILE_NAMES = ['t"""\nimport os; os.system("touch PWNED")\n"""', "../../escaped", "/tmp/abs", "", "a\0b",
                 "$\\foo{$", 'x" [color=red']


def _with_name(name):
    return XOR.replace("name: eqprop-xor", f"name: {json.dumps(name)}", 1)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_spec_name_never_reaches_generated_code_nor_escapes_out(name, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(_with_name(name), encoding="utf-8")
    source, _, _ = codegen.generate(ngdsl.load(str(spec)).plan)
    assert source == codegen.generate(load("eqprop_xor.yaml").plan)[0]   # the code follows the circuit alone
    out = tmp_path / "out"
    result = run_cli("run", str(spec), "--epochs", "1", "--out", str(out), "--quiet", cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "PWNED").exists()
    (run,) = os.listdir(out)                               # one run directory, inside --out
    assert os.path.dirname(os.path.realpath(out / run)) == os.path.realpath(out)
    assert sorted(os.listdir(tmp_path)) == ["out", "spec.yaml"]
    assert run.rsplit("-", 2)[0] != "" and "/" not in run
    assert (out / run / "plots" / "learning_curve.png").exists()   # a '$' in the title is not TeX


def test_dot_quotes_a_hostile_name():
    graph = load("eqprop_xor.yaml").graph
    graph.graph["name"] = 'x" [color=red]; "y'
    first = to_dot(graph).splitlines()[0]
    assert first == 'digraph "x\\" [color=red]; \\"y" {'


def test_a_second_writer_of_a_run_directory_fails_cleanly(tmp_path):
    from ngdsl.runs import ResumeError, RunDirectory
    model = load("eqprop_xor.yaml")
    run = RunDirectory(str(tmp_path), model, spec_path("eqprop_xor.yaml"))
    with pytest.raises(ResumeError, match="in use by another ngdsl run"):
        RunDirectory.reopen(run.path, load("eqprop_xor.yaml"), spec_path("eqprop_xor.yaml"))
    run.close()
    RunDirectory.reopen(run.path, load("eqprop_xor.yaml"), spec_path("eqprop_xor.yaml")).close()


def test_a_run_starts_with_a_checkpoint_of_its_initial_weights(tmp_path):
    # A run stopped within its first epoch resumes from the start, bit-identically.
    from ngdsl.runs import RunDirectory
    RunDirectory(str(tmp_path / "a"), load("eqprop_xor.yaml"), spec_path("eqprop_xor.yaml")).close()
    (first,) = os.listdir(tmp_path / "a")
    with np.load(tmp_path / "a" / first / "weights.npz") as w:
        assert int(w["epoch"]) == 0
        initial = {k: w[k] for k in w.files}
    fresh = load("eqprop_xor.yaml")
    for name, array in fresh.weights.items():
        np.testing.assert_array_equal(initial[f"param:{name}"], array)
    resumed = run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "2", "--resume", str(tmp_path / "a" / first),
                      "--quiet", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    assert run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "2", "--out", str(tmp_path / "b"),
                   "--quiet", "--no-plots").returncode == 0
    (second,) = os.listdir(tmp_path / "b")
    with np.load(tmp_path / "a" / first / "weights.npz") as a, np.load(tmp_path / "b" / second / "weights.npz") as b:
        for key in b.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _damage(run, how):
    weights = run / "weights.npz"
    if how == "a FIFO for metrics":
        (run / "metrics.jsonl").unlink()
        os.mkfifo(run / "metrics.jsonl")
    elif how == "YAML bomb in the resolved spec":
        laughs = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))
        (run / "spec.resolved.yaml").write_text("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + laughs)
    elif how == "truncated":
        weights.write_bytes(weights.read_bytes()[:-40])
    elif how == "empty":
        weights.write_bytes(b"")
    elif how == "bit flipped":
        data = bytearray(weights.read_bytes())
        data[len(data) // 3] ^= 0xFF
        weights.write_bytes(bytes(data))
    else:
        with np.load(weights) as w:
            arrays = {k: w[k] for k in w.files}
        if how == "missing array":
            arrays.pop("param:W1")
        elif how == "wrong shape":
            arrays["param:W1"] = arrays["param:W1"][:1]
        elif how == "negative epoch":
            arrays["epoch"] = np.array(-5)
        elif how == "oversized array":   # refused from the zip header, before numpy allocates it
            arrays["param:W1"] = np.zeros((1000, 1000))
        elif how == "epoch ahead of the metrics":
            arrays["epoch"] = np.array(7)
        elif how == "singular covariance":   # GNCN-t1-Σ's S1: all ones has no inverse
            arrays["param:S1"] = np.ones_like(arrays["param:S1"])
        if how != "tampered digest":   # a consistent checksum: the checks on the contents must catch it
            arrays["digest"] = _digest({k: v for k, v in arrays.items() if k != "digest"})
        else:
            arrays["digest"] = arrays["digest"][::-1].copy()
        with open(weights, "wb") as f:
            np.savez_compressed(f, **arrays)


@pytest.mark.parametrize("how", ["truncated", "empty", "bit flipped", "missing array", "wrong shape",
                                 "negative epoch", "epoch ahead of the metrics", "tampered digest",
                                 "oversized array", "YAML bomb in the resolved spec",
                                 "a FIFO for metrics"])
def test_a_damaged_checkpoint_is_a_clear_error_on_resume(tmp_path, how):
    assert run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "1", "--out", str(tmp_path),
                   "--quiet", "--no-plots").returncode == 0
    (run,) = os.listdir(tmp_path)
    _damage(tmp_path / run, how)
    result = run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "2", "--resume", str(tmp_path / run), "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"cannot resume from '{tmp_path / run}'" in result.stderr


def test_a_checkpoint_whose_covariance_has_no_inverse_is_a_clear_error_on_resume(tmp_path):
    # GNCN-t1-Σ carries the precision of S1; all-ones is a covariance no inverse exists for
    assert run_cli("run", spec_path("gncn_t1_sigma_digits.yaml"), "--epochs", "1", "--out", str(tmp_path),
                   "--quiet", "--no-plots").returncode == 0
    (run,) = os.listdir(tmp_path)
    _damage(tmp_path / run, "singular covariance")
    result = run_cli("run", spec_path("gncn_t1_sigma_digits.yaml"), "--epochs", "2", "--resume", str(tmp_path / run),
                     "--quiet", "--no-plots")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (f"cannot resume from '{tmp_path / run}': weights.npz 'S1.precision' cannot be derived: the precision "
            "of 'S1' does not exist (its weights became singular)") in result.stderr


def test_the_api_checks_input_shapes():
    model = load("pc_digits.yaml")
    with pytest.raises(ValueError, match=r"x must have shape \(examples, 64\).*got shape \(3, 1\)"):
        model.predict(np.random.rand(3, 1))
    with pytest.raises(ValueError, match=r"got shape \(2, 500\)"):
        model.predict(np.random.rand(2, 500))
    x = model.data.x_test[:4]
    assert model.predict(x[0]).shape == (1, 10)             # a vector is one example, never 64
    np.testing.assert_array_equal(model.predict(x[0]), model.predict(x[:1]))
    with pytest.raises(ValueError, match="must hold numbers"):
        model.predict(np.array([["a"] * 64]))
    with pytest.raises(ValueError, match=r"y must have shape \(examples, 10\)"):
        model.updates(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="y has 3 examples but x has 4"):
        model.settling_energy(x, np.zeros((3, 10)))
    broken = x.copy()
    broken[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"x holds NaN or Inf \(first at example 2, column 5\)"):
        model.predict(broken)


def _spec_with_data(tmp_path, data):
    text = open(spec_path("bp_digits.yaml"), encoding="utf-8").read()
    line = next(l for l in text.splitlines() if l.startswith("data:"))
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(line, data))
    return str(path)


def _data_error(tmp_path, data):
    with pytest.raises(SpecError) as info:
        ngdsl.load(_spec_with_data(tmp_path, data))
    (d,) = info.value.diagnostics
    return d.message


def test_hostile_data_files_are_located_errors_that_quote_nothing(tmp_path):
    (tmp_path / "secret.csv").write_text("1,2\n3,AWS_SECRET_KEY=abc\n")
    message = _data_error(tmp_path, "data: {dataset: files, x: secret.csv}")
    assert message == "cannot read the data: 'secret.csv' has a value that is not a number on non-empty line 2"
    assert "AWS" not in message
    assert "not a regular file" in _data_error(tmp_path, "data: {dataset: files, x: /dev/zero}")
    np.save(tmp_path / "rec.npy", np.zeros(4, dtype=[("a", "f4"), ("b", "i4")]))
    assert "holds [('a', '<f4'), ('b', '<i4')] values, not plain numbers" in _data_error(
        tmp_path, "data: {dataset: files, x: rec.npy}")
    np.save(tmp_path / "none.npy", np.zeros((0, 64)))
    assert "'none.npy' holds no examples" in _data_error(tmp_path, "data: {dataset: files, x: none.npy}")
    np.save(tmp_path / "x.npy", np.zeros((3, 64)))
    np.save(tmp_path / "labels.npy", np.array([0, 1, 10 ** 6]))
    assert "class label 1000000" in _data_error(tmp_path, "data: {dataset: files, x: x.npy, y: labels.npy}")
    (tmp_path / "x.npz").write_bytes(b"PK\x03\x04" + b"\0" * 20)
    assert "damaged, truncated" in _data_error(tmp_path, "data: {dataset: npz, path: x.npz}")


def test_a_gzip_bomb_stops_at_the_limit(tmp_path, monkeypatch):
    import gzip

    from ngdsl.compiler import datafiles
    monkeypatch.setattr(datafiles, "MAX_BYTES", 1 << 20)
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"\0" * (4 << 20)))
    assert "decompresses to more than" in _data_error(tmp_path, "data: {dataset: files, x: bomb.gz}")


def test_integer_pixels_from_a_csv_are_scaled_like_uint8(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (20, 64))
    (tmp_path / "x.csv").write_text("\n".join(",".join(map(str, r)) for r in pixels))
    np.save(tmp_path / "y.npy", np.arange(20) % 10)
    model = ngdsl.load(_spec_with_data(tmp_path, "data: {dataset: files, x: x.csv, y: y.npy, test_fraction: 0.0}"))
    assert model.data.x_train.max() <= 1.0
    np.testing.assert_allclose(np.sort(model.data.x_train.ravel()), np.sort(pixels.ravel() / 255.0), rtol=1e-6)


def test_a_circuit_over_the_memory_budget_is_refused_at_its_largest_part(write_spec):
    text = XOR.replace("h: {kind: state, size: 8", "h: {kind: state, size: 40000", 1)
    assert text != XOR
    with pytest.raises(SpecError) as info:
        compile_file(write_spec(text), max_memory=1 << 20)
    (d,) = info.value.diagnostics
    assert d.message.startswith("this circuit needs about") and "the budget is 1.0 MB" in d.message
    assert "the largest part is component 'h'" in d.message and (d.line, d.col) == (11, 3)


def test_a_huge_generated_dataset_is_refused_before_it_is_generated(tmp_path, monkeypatch):
    import time
    monkeypatch.setenv("NGDSL_MEMORY_BUDGET", "1G")
    start = time.perf_counter()
    message = _data_error(tmp_path, "data: {dataset: blobs, n: 10000000, features: 64, centers: 10}")
    assert message.startswith("this circuit needs about") and "the largest part is the data" in message
    assert "the budget is 1.0 GB" in message
    assert time.perf_counter() - start < 30


def test_the_memory_estimate_covers_the_arrays_a_run_allocates():
    import tracemalloc
    path = os.path.join(ROOT, "benchmarks", "specs", "pc_mlp.yaml")
    ngdsl.load(path)   # compiled and cached: what follows allocates arrays, not the compiler's work
    tracemalloc.start()
    try:
        model = ngdsl.load(path)
        model.fit(1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = model.compiled.memory.total
    assert peak <= 1.1 * estimate and estimate <= 2 * peak, (peak, estimate)


def _cache_report(cache, *extra):
    """(kernel cache state, stderr) of loading oja_pca (quick to compile) in a fresh process with
    NGDSL_CACHE=cache."""
    import subprocess
    import sys
    code = ("import ngdsl; m = ngdsl.load('specs/oja_pca.yaml'); print(m.executor.kernel_cache); "
            "print(float(m.predict(m.data.x_train)[0, 0]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NGDSL_CACHE": str(cache)})
    assert out.returncode == 0, out.stderr
    state, value = out.stdout.split()
    return state, float(value), out.stderr


def test_a_change_to_the_shared_matrix_product_renames_every_kernel(monkeypatch):
    # kernels carry the copy of runtime/products.py's product they were compiled with: numba's cache of
    # a kernel must not outlive a change to it
    from ngdsl.runtime import kernels
    plan = compile_file(spec_path("pc_digits.yaml")).plan   # the plan alone: nothing compiled or trained
    source = codegen.generate(plan)[0]
    assert f"runtime/products.py {codegen.products_hash()}" in source and "matmul(" in source
    monkeypatch.setattr(codegen, "products_hash", lambda: "0" * 12)
    assert kernels.digest(codegen.generate(plan)[0]) != kernels.digest(source)


def test_the_kernel_cache_reports_truthfully_and_survives_damage(tmp_path):
    cache = tmp_path / "kernels"
    cold = _cache_report(cache)
    warm = _cache_report(cache)
    assert (cold[0], warm[0]) == ("cold", "warm") and cold[1] == warm[1]
    (module,) = cache.glob("ngdsl_*.py")
    module.write_text(module.read_text()[:200])                 # a truncated source: detected, rewritten
    assert _cache_report(cache)[:2] == ("cold", cold[1])
    for index in (cache / "__pycache__").glob("*.nbi"):           # numba's damaged index: compiled afresh
        index.write_bytes(index.read_bytes()[:16])
    assert _cache_report(cache)[:2] == ("cold", cold[1])
    assert _cache_report(cache)[:2] == ("warm", cold[1])
    blocked = tmp_path / "file"
    blocked.write_text("")                                      # NGDSL_CACHE under a file cannot be created
    state, value, stderr = _cache_report(blocked / "kernels")
    assert value == cold[1] and "cannot be written" in stderr


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="compiling ahead needs a second core")
def test_a_cold_start_compiles_the_routines_after_training_in_a_second_process(tmp_path, monkeypatch):
    monkeypatch.setenv("NGDSL_CACHE", str(tmp_path))
    model = load("oja_pca.yaml")
    functions = model.executor.functions
    misses = {k.routine: sum(functions[k.name].stats.cache_misses.values()) for k in model.executor.kernels.values()}
    # this process compiled schedule.train's kernel and found schedule.predict's in the cache, written meanwhile
    assert misses["train"] > 0 and misses["predict"] == 0 and model.executor.kernel_cache == "cold"
    x = model.data.x_train[:16]
    np.testing.assert_allclose(model.predict(x), load("oja_pca.yaml", jit=False).predict(x), rtol=1e-5, atol=1e-6)


def test_inputs_far_outside_the_expected_range_are_named(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0, 5000, (20, 64)))
    np.save(tmp_path / "y.npy", np.arange(20) % 10)
    path = _spec_with_data(tmp_path, "data: {dataset: files, x: x.npy, y: y.npy}")
    result = run_cli("run", path, "--epochs", "1", "--out", str(tmp_path / "runs"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"{path}: warning: data.x reaches 4" in result.stderr and "saturate" in result.stderr
    assert load("bp_digits.yaml").warnings == []


def test_more_careless_mistakes_are_clean_errors(tmp_path):
    with pytest.raises(SpecError) as info:
        load("oja_pca.yaml", "data.spectrum=[1, 2]")
    assert [str(d) for d in info.value.diagnostics] == [
        "--set data.spectrum=[1, 2]: error: the spectrum lists 2 eigenvalues but dim is 8: give one per dimension"]
    zero = run_cli("run", spec_path("eqprop_xor.yaml"), "--epochs", "0", "--out", str(tmp_path))
    assert zero.returncode == 2 and "'0' is not a whole number of at least 1" in zero.stderr
    assert os.listdir(tmp_path) == []          # nothing was written


def test_a_metric_that_overflows_stops_the_run_as_a_divergence():
    # weights and readout stay finite in float32, but the squared error of a 1e21 readout does not
    from ngdsl import Divergence
    model = load("bp_digits.yaml", "cables.W2.init={dist: constant, scale: 1.0e+19}", "metrics=[mse]",
                 "train.optimizer={sgd: {lr: 1.0e-30}}")
    with pytest.raises(Divergence, match="the metric 'train_mse' became NaN or Inf in epoch 1"):
        model.fit(1)
    assert model.history == []


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    spec = run_cli("check", str(fifo))
    assert spec.returncode == 2 and "cannot read the spec: not a regular file" in spec.stderr
    assert "'pipe' is not a regular file" in _data_error(tmp_path, f"data: {{dataset: files, x: {fifo}}}")


def test_viz_into_a_missing_folder_is_a_clean_error(tmp_path):
    result = run_cli("viz", spec_path("eqprop_xor.yaml"), "-o", str(tmp_path / "no" / "c.svg"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"there is no folder {tmp_path / 'no'}" in result.stderr
