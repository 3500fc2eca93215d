"""The museum: every shipped algorithm trained on its harness, beside its ablated control and
backprop on the same architecture, over seeds.

``docs/museum.yaml`` says, per algorithm, which spec, which overrides make the harness, which
cables the control freezes, what is measured and the bar the learning test holds it to. This
module runs those (``run``), and as a script re-measures every row over seeds and rewrites the
table::

    python tests/museum.py --seeds 5 --orderings   # docs/museum_results.json and docs/museum.md
    python tests/museum.py --seeds 5 bp_digits.yaml  # only the rows of one spec
    python tests/museum.py --seeds 5 --harder       # the fidelity study on the harder task
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INDEX = os.path.join(ROOT, "docs", "museum.yaml")
RESULTS = os.path.join(ROOT, "docs", "museum_results.json")
TABLE = os.path.join(ROOT, "docs", "museum.md")
sys.path.insert(0, ROOT)

import ngdsl  # noqa: E402
from ngdsl.compiler import compile_file  # noqa: E402


def index(part: str = "rows"):
    """The rows (or the published ``orderings``, or the ``harder`` study) of docs/museum.yaml."""
    with open(INDEX, encoding="utf-8") as f:
        return yaml.safe_load(f)[part]


def harder_rows() -> list:
    """The fidelity study's rows as museum rows: the common harness prepended to every variant,
    the shared random-feature baseline attached, test accuracy measured."""
    section = index("harder")
    common = list(section["harness"])
    with_harness = lambda run: {"spec": run["spec"], "overrides": common + list(run["overrides"])}  # noqa: E731
    return [{**row, "harness": common + list(row["overrides"]), "measure": "test_accuracy",
             "backprop": with_harness(row["backprop"]), "random_features": with_harness(section["random_features"])}
            for row in section["rows"]]


def _top_eigenvectors(x, k):
    return np.linalg.eigh(x.T @ x / len(x))[1][:, ::-1][:, :k].T


def _principal_components(model, centred=False):
    """The smallest |cos| between each unit's weights and the principal component of its rank, of
    the training data's second moment (or, ``centred``, of its covariance)."""
    w, x = model.weights["W"], model.data.x_train
    top = _top_eigenvectors(x - x.mean(axis=0) if centred else x, len(w))
    return float(min(abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(w, top)))


def _quantization_error(model):
    """Mean squared distance from a test example to its nearest prototype (a row of the
    competitive cable W): the objective competitive learning descends (online k-means)."""
    x, w = model.data.x_test, model.weights["W"]
    return float(np.mean(np.min(((x[:, None, :] - w[None, :, :]) ** 2).sum(axis=2), axis=1)))


def _topographic_error(model):
    """The fraction of test examples whose nearest and second-nearest prototypes (rows of the map's cable
    W) are not side by side on the map's lattice (4-neighbours): 0 for a map that keeps the data's
    neighbourhoods, about 1 − 4/units for prototypes in no order."""
    x, w = model.data.x_test, model.weights["W"]
    cols = model.plan.components[model.compiled.circuit.cables["W"].target.component]["lattice"][1]
    best = np.argsort(((x[:, None, :] - w[None, :, :]) ** 2).sum(axis=2), axis=1)[:, :2]
    rows, columns = np.divmod(best, cols)
    return float(np.mean((rows[:, 0] - rows[:, 1]) ** 2 + (columns[:, 0] - columns[:, 1]) ** 2 > 1))


def _reconstruction_error(model):
    """Mean squared error between the readout for each test example and the clean example itself
    (for a denoiser the input it sees is a corrupted copy, drawn by the spec's data streams)."""
    x = model.data.x_test
    return float(np.mean((model.predict(x) - x) ** 2))


def _selectivity(model):
    """Bienenstock's selectivity index 1 − mean(r)/max(r) of each unit's responses r to the distinct
    training patterns, averaged over the units that respond at all (a silent unit has no index; BCM's
    zero fixed point is stable too): 0 for a unit that answers all alike, 1 − 1/n at most."""
    patterns = np.unique(model.data.x_train, axis=0)
    r = np.abs(model.predict(patterns))
    top = r.max(axis=0)
    responding = top > 1e-2 * top.max()
    return float(np.mean(1 - r.mean(axis=0)[responding] / top[responding]))


def _bars_coded(model):
    """The fraction of the single bars (each row and each column of a square image alone) that one
    unit alone answers (phi > 0.5), each bar by a unit of its own: 1 for a factorial code."""
    size = int(round(np.sqrt(model.data.x_train.shape[1])))
    bars = np.zeros((2 * size, size, size))
    for k in range(size):
        bars[k, k, :] = bars[size + k, :, k] = 1.0
    active = model.predict(bars.reshape(2 * size, -1)) > 0.5
    units = {int(np.flatnonzero(row)[0]) for row in active if row.sum() == 1}
    return len(units) / (2 * size)


def _stdp_window(model):
    """The cosine between the learned weights W (from one presynaptic unit a to the units of b, each
    pair's spike times in data.x and data.y) and the STDP window A+·e^(−Δt/τ) (Δt = t_post − t_pre > 0),
    −A−·e^(Δt/τ) (Δt < 0), with the constants of the spec's W and a; 0 for weights that never moved."""
    spec = model.compiled.resolved
    constants = {**spec["components"]["a"]["constants"], **spec["cables"]["W"]["rule"]["equation"]["constants"]}
    dt = model.data.y_train[0] - model.data.x_train[0, 0]
    window = np.where(dt > 0, constants["A_plus"] * np.exp(-dt / constants["tau"]),
                      np.where(dt < 0, -constants["A_minus"] * np.exp(dt / constants["tau"]),
                               constants["A_plus"] - constants["A_minus"]))
    w = model.weights["W"][:, 0]
    norm = np.linalg.norm(w) * np.linalg.norm(window)
    return float(w @ window / norm) if norm else 0.0


#: measure -> (function of a trained model, higher is better)
MEASURES = {
    "test_accuracy": (lambda m: m.history[-1]["test_accuracy"], True),
    "train_accuracy": (lambda m: m.history[-1]["train_accuracy"], True),
    "test_purity": (lambda m: m.history[-1]["test_purity"], True),
    "train_mse": (lambda m: m.history[-1]["train_mse"], False),
    "test_objective": (lambda m: m.history[-1]["test_objective"], False),
    "test_bce": (lambda m: m.history[-1]["test_bce"], False),
    "test_log_px": (lambda m: m.history[-1]["test_log_px"], True),
    "principal_components": (_principal_components, True),
    "covariance_components": (lambda m: _principal_components(m, centred=True), True),
    "quantization_error": (_quantization_error, False),
    "topographic_error": (_topographic_error, False),
    "reconstruction_error": (_reconstruction_error, False),
    "selectivity": (_selectivity, True),
    "bars_coded": (_bars_coded, True),
    "stdp_window": (_stdp_window, True),
}


def control_overrides(frozen) -> list:
    """Overrides that switch the learning of the ``frozen`` cables off (the updates skip them)."""
    return [f"cables.{c}.frozen=true" for c in frozen]


#: the variants a row may have: the spec, its ablated control, and baselines named by the row
VARIANTS = ("ours", "control", "backprop", "random_features")


def variant_overrides(row: dict, variant: str) -> tuple:
    """(spec, overrides) of one of a row's variants (see VARIANTS)."""
    if variant in ("backprop", "random_features"):
        base = row[variant]
        return base["spec"], list(base.get("overrides", []))
    extra = control_overrides(row["frozen"]) + list(row.get("control_overrides", [])) if variant == "control" else []
    return row["spec"], list(row.get("harness", [])) + extra


#: the last few models trained, by (spec, overrides): rows that measure one run twice (GNCN's
#: reconstruction and its likelihood) train it once
_TRAINED = {}


def _compiled(path, overrides):
    """The spec compiled to measure its metrics only after the last epoch (the measures read that
    epoch alone), where that gives the same numbers as measuring every epoch: no epoch is chosen by
    its metrics and measuring draws no random numbers (else each measurement moves the draws of the next)."""
    compiled = compile_file(path, overrides)
    plan = compiled.plan
    if plan.train.get("keep_best") or any(plan.draws_in(r) for r in ("predict", "sample", "encode") if r in plan.routines):
        return compiled
    return compile_file(path, overrides + ["train.evaluate_every=1000000"])


def run(row: dict, seed: int, variant: str = "ours", measure: str = None) -> float:
    """Train one variant of a row with ``seed`` and return its measure."""
    spec, overrides = variant_overrides(row, variant)
    key = json.dumps([spec, overrides + [f"seed={seed}"]])
    if key not in _TRAINED:
        model = ngdsl.Model(_compiled(os.path.join(ROOT, "specs", spec), overrides + [f"seed={seed}"]))
        model.fit()
        _TRAINED[key] = model
        while len(_TRAINED) > 4:
            del _TRAINED[next(iter(_TRAINED))]
    return float(MEASURES[measure or row["measure"]][0](_TRAINED[key]))


def beats(row: dict, ours: float, other: float, by: float) -> bool:
    """Whether ``ours`` is better than ``other`` by at least ``by`` in the row's measure: by that
    much more for a score, by that fraction less for an error."""
    higher = MEASURES[row["measure"]][1]
    return ours >= other + by if higher else ours <= other * (1 - by)


def meets_bar(row: dict, value: float) -> bool:
    return value >= row["bar"] if MEASURES[row["measure"]][1] else value <= row["bar"]


def claim_holds(row: dict, measured: dict, seed_index: int) -> bool:
    """Whether a fidelity row's claim holds on one seed: ``above`` a baseline by at least ``by``,
    or ``within`` ``by`` of it (the same seed: both start from the same weights and batches)."""
    claim, ours = row["claim"], measured["ours"][seed_index]
    if "within" in claim:
        return abs(ours - measured[claim["within"]][seed_index]) <= claim["by"] + 1e-12
    return ours >= measured[claim["above"]][seed_index] + claim["by"] - 1e-12


def claim_text(claim: dict) -> str:
    baseline = claim.get("within") or claim["above"]
    how = "within" if "within" in claim else "above"
    return f"{how} {baseline.replace('_', ' ')} by {'≤' if how == 'within' else '≥'} {claim['by'] * 100:g} points"


# ---- the study and the table ----------------------------------------------------------------

def study(rows, seeds, key_of=None) -> dict:
    """Every variant of every row over ``seeds``: {row key: {variant: [values]}}; shared
    baselines are trained once."""
    done, out = {}, {}
    for row in rows:
        values = {}
        for variant in VARIANTS:
            if variant in ("backprop", "random_features") and not row.get(variant):
                continue
            key = json.dumps([*variant_overrides(row, variant), row["measure"]])
            if key not in done:
                done[key] = [run(row, seed, variant) for seed in seeds]
                print(f"{row['id']:10s} {variant:15s} {_spread(done[key])}", file=sys.stderr, flush=True)
            values[variant] = done[key]
        out[(key_of or row_key)(row)] = values
    return out


def ordering_study(orderings, seeds) -> dict:
    """Test accuracy of every run of every ordering over ``seeds``: {claim: {label: [values]}}."""
    out = {}
    for ordering in orderings:
        out[ordering["claim"]] = {}
        for spec_run in ordering["runs"]:
            path = os.path.join(ROOT, "specs", spec_run["spec"])
            overrides = list(spec_run["overrides"]) + list(spec_run.get("extra", []))
            values = []
            for seed in seeds:
                model = ngdsl.load(path, set=overrides + [f"seed={seed}"])
                values.append(model.fit()[-1]["test_accuracy"])
            out[ordering["claim"]][spec_run["label"]] = values
            print(f"{ordering['claim']}: {spec_run['label']} {_spread(values)}", file=sys.stderr, flush=True)
    return out


def ordering_holds(ordering, measured) -> bool:
    """Whether the means follow the claim: each run at least the next, or all within ``within``."""
    means = [float(np.mean(measured[r["label"]])) for r in ordering["runs"]]
    if "within" in ordering:
        return max(means) - min(means) <= ordering["within"]
    return all(a >= b for a, b in zip(means, means[1:]))


def row_key(row) -> str:
    return f"{row['id']} {row['spec']} {row['measure']} {row['algorithm']}"


def harder_key(row) -> str:
    return f"{row['id']} {row['algorithm']}"


def _spread(values, percent=True) -> str:
    a = np.asarray(values) * (100 if percent else 1)
    return f"{a.mean():.1f} ± {a.std():.1f}" if percent else f"{a.mean():.4f} ± {a.std():.4f}"


def _cell(row, values, extreme="worst"):
    """mean ± std, and the worst seed (or, for a control, the best: the one nearest the bar)."""
    if not values:
        return "—"
    percent = row["measure"].endswith(("accuracy", "purity"))   # the rest are cosines, errors and indices
    lowest = MEASURES[row["measure"]][1] == (extreme == "worst")
    value = (min if lowest else max)(values)
    value = f"{value * 100:.1f}" if percent else f"{value:.4f}"
    return f"{_spread(values, percent)} ({extreme} {value})"


def render(rows, results, orderings=(), ordered=None, harder=(), harder_results=None) -> str:
    """docs/museum.md from the index and the measured results."""
    lines = [
        "# The museum",
        "",
        "Every shipped algorithm on its harness, beside its **control** (the same spec with the",
        "credit-assignment path switched off: every hidden cable's learning off, or all learning off for",
        "unsupervised and competitive specs) and **backprop** on the same architecture, activation,",
        "loss, optimizer and epochs. Mean ± std over seeds, with the worst seed (for the control, its best)",
        "in brackets. Accuracies are in percent; a bar is a fraction. The learning test holds the CI seed to",
        "the bar and to the margin over its control: a margin is added to a score, or is the fraction",
        "an error must fall below the control's.",
        "",
        "Generated by `python tests/museum.py --seeds 5` from `docs/museum.yaml`; do not edit.",
        "",
        "| algorithm | catalogue id | spec | harness | measure | ours | control | matched backprop | bar / margin "
        "| published anchor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        measured = results.get(row_key(row), {})
        n = len(measured.get("ours", []))
        lines.append(" | ".join([
            f"| {row['algorithm']}", row["id"], f"`{row['spec']}`", row["harness_about"], f"{row['measure']} ({n} seeds)",
            _cell(row, measured.get("ours")), _cell(row, measured.get("control"), "best"),
            _cell(row, measured.get("backprop")), f"{row['bar']} / {row['margin']}", row.get("published", "—")]) + " |")
    if orderings:
        lines += ["", "## Published orderings on one harness", "",
                  "| claim | published | harness | ours (test accuracy, mean ± std) | holds |", "|---|---|---|---|---|"]
        for ordering in orderings:
            measured = (ordered or {}).get(ordering["claim"], {})
            cells = ", ".join(f"{r['label']} {_spread(measured[r['label']])}" for r in ordering["runs"]
                              if r["label"] in measured)
            holds = ("yes" if ordering_holds(ordering, measured) else "no") if cells else "—"
            lines.append(f"| {ordering['claim']} | {ordering['published']} | {ordering['harness_about']} | "
                         f"{cells or '—'} | {holds} |")
    if harder:
        lines += _render_harder(harder, harder_results or {})
    lines += _render_coverage(rows)
    notes = [f"- **{row['id']}** (`{row['spec']}`): {row['note']}" for row in rows if row.get("note")]
    if notes:
        lines += ["", "## Notes", ""] + notes
    return "\n".join(lines) + "\n"


def coverage() -> list:
    """Every catalogue id in the catalogue's order: (id, what it still needs or None)."""
    return [(entry, None) if isinstance(entry, str) else (entry["id"], entry["needs"]) for entry in index("catalogue")]


def _render_coverage(rows) -> list:
    specs = {}
    for row in rows:
        specs.setdefault(row["id"], []).append(f"`{row['spec']}`")
    entries = coverage()
    shipped = sum(1 for ident, _ in entries if ident in specs)
    lines = ["", "## The catalogue, id by id", "",
             f"{shipped} of the catalogue's {len(entries)} schemes have a spec above; the rest say what they still need.",
             "", "| catalogue id | spec | still needs |", "|---|---|---|"]
    for ident, needs in entries:
        lines.append(f"| {ident} | {', '.join(dict.fromkeys(specs.get(ident, []))) or '—'} | {needs or ''} |")
    return lines


def _render_harder(rows, results) -> list:
    lines = ["", "## On a harder task", "",
             "The shipped specs ported to " + index("harder")["harness_about"] + ". Beside each: its **frozen** "
             "control (hidden learning off), **random features** (the same 256 fixed random ReLU features for "
             "every row, a readout trained by backprop) and its **matched backprop**. Test accuracy in percent, "
             "mean ± std over seeds (worst seed; for a control, its best). A claim must hold on every seed; "
             "`tests/test_learning.py` checks it on the CI seed.",
             "", "| algorithm | catalogue id | spec | ours | frozen | random features | matched backprop | claim |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        measured = results.get(harder_key(row), {})
        claim = "—"
        if row.get("claim"):
            seeds = range(len(measured.get("ours", [])))
            holds = seeds and all(claim_holds(row, measured, i) for i in seeds)
            claim = f"{claim_text(row['claim'])}: {'holds' if holds else 'does not hold'}" if seeds else claim_text(row["claim"])
        lines.append(" | ".join([
            f"| {row['algorithm']}", row["id"], f"`{row['spec']}`", _cell(row, measured.get("ours")),
            _cell(row, measured.get("control"), "best"), _cell(row, measured.get("random_features"), "best"),
            _cell(row, measured.get("backprop")), claim]) + " |")
    lines += [""] + [f"- **{row['id']}** ({row['algorithm']}): {row['note']}" for row in rows if row.get("note")]
    return lines


def _read(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _at_least_one(text):
    """A seed count: with none, a study would replace every measured row with nothing."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=_at_least_one, default=5, help="seeds 0..N-1")
    parser.add_argument("--orderings", action="store_true", help="also re-measure the published orderings")
    parser.add_argument("--harder", action="store_true", help="the fidelity study on the harder task instead of the rows")
    parser.add_argument("specs", nargs="*", help="only the rows of these specs")
    args = parser.parse_args(argv)
    rows, orderings, harder = index(), index("orderings"), harder_rows()
    saved = _read(RESULTS)
    results, ordered, fidelity = saved.get("rows", {}), saved.get("orderings", {}), saved.get("harder", {})
    chosen = lambda rs: [r for r in rs if not args.specs or r["spec"] in args.specs]  # noqa: E731
    if args.harder:
        fidelity.update(study(chosen(harder), range(args.seeds), harder_key))
    else:
        results.update(study(chosen(rows), range(args.seeds)))
    if args.orderings:
        ordered = ordering_study(orderings, range(args.seeds))
    saved = {"rows": {row_key(r): results[row_key(r)] for r in rows if row_key(r) in results},
             "orderings": ordered,
             "harder": {harder_key(r): fidelity[harder_key(r)] for r in harder if harder_key(r) in fidelity}}
    with open(RESULTS, "w", encoding="utf-8") as f:
        json.dump(saved, f, indent=1)
        f.write("\n")
    with open(TABLE, "w", encoding="utf-8") as f:
        f.write(render(rows, saved["rows"], orderings, ordered, harder, saved["harder"]))


if __name__ == "__main__":
    main()
