"""The ``ngdsl`` command: check, run, sweep, compare, viz, inspect and schema."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# The compiler, the runtime and numba load inside the commands: --help and --version stay fast.


def _compile(args):
    from .compiler import compile_file
    compiled = compile_file(args.spec, args.set, max_memory=args.max_memory)
    for warning in compiled.warnings:
        print(warning, file=sys.stderr)
    return compiled


def cmd_check(args):
    from .compiler.memory import human
    compiled = _compile(args)
    plan = compiled.plan
    need = compiled.memory
    print(f"{args.spec}: ok — {len(plan.components)} components, {len(compiled.circuit.cables)} cables, "
          f"{len(plan.parameters)} parameter arrays, schedules: {', '.join(plan.routines)}; memory about "
          f"{human(need.total)} (parameters {human(need.parameters)}, buffers {human(need.buffers)}, "
          f"data {human(need.data)})")
    return 0


def _table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows)


def cmd_run(args):
    from tqdm import tqdm

    from .compiler.diagnostics import visible
    from .model import Model
    from .runs import ResumeError, RunDirectory, train

    compiled = _compile(args)
    print(f"compiling '{visible(compiled.plan.name)}' ...", file=sys.stderr)
    model = Model(compiled, threads=args.threads)
    for warning in model.warnings:
        print(f"{args.spec}: warning: {warning}", file=sys.stderr)
    try:
        run = RunDirectory.reopen(args.resume, model, args.spec) if args.resume else \
            RunDirectory(args.out, model, args.spec)
    except ResumeError as exc:
        print(f"{args.spec}: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:   # a monitored compartment that schedule.predict does not compute
        print(f"{args.spec}: error: monitors: {exc}", file=sys.stderr)
        return 2
    epochs = compiled.plan.train["epochs"] if args.epochs is None else args.epochs
    n_batches = -(-len(model.data.x_train) // model.data.batch)
    start, bars = time.perf_counter(), []

    def before_epoch(epoch):
        if bars:
            bars[-1].close()
        bars.append(tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                         disable=args.quiet, file=sys.stderr, leave=True))

    def on_epoch(record):
        bars[-1].set_postfix({k: f"{v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds")})

    if not args.no_plots:
        run.remember_settling_energy()
    try:
        status, message = train(model, run, epochs, before_epoch, on_epoch, on_batch=lambda: bars[-1].update(1))
    finally:
        if bars:
            bars[-1].close()
    run_seconds = time.perf_counter() - start
    run.manifest(status, run_seconds, message)
    if not args.no_plots:
        run.plot()
    run.close()
    from .runtime.metrics import HIGHER_IS_BETTER, best_epoch
    final = model.history[-1] if model.history else {}
    rows = [("metric", "last", "best (epoch)")]
    for key, value in final.items():
        if key not in ("epoch", "seconds"):
            best = best_epoch(model.history, key, HIGHER_IS_BETTER.get(key.split("_", 1)[-1], True))
            rows.append((key, f"{value:.4f}", f"{best[1]:.4f} ({best[0]})" if best and not key.startswith("steps_") else ""))
    kept = model.best
    rows += [("epochs", run.checkpointed_epoch, "")]
    if kept is not None:   # train.keep_best: the model (and its plots) carry the best validation epoch's weights
        stopped = " (stopped early)" if model.stopped else ""
        rows += [("weights kept", f"epoch {kept[0]}{stopped}",
                  f"best validation_{model.plan.train['keep_best']} {kept[1]:.4f}")]
    rows += [("compile time", f"{model.compile_seconds:.2f} s ({model.executor.kernel_cache} kernel cache)", ""),
             ("run time", f"{run_seconds:.2f} s", "")]
    print(_table(rows))
    print(f"run directory: {run.path}")
    if status != "completed":
        print(f"{args.spec}: error: {message}", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(args):
    from .compiler.source import parse_yaml
    from .runs import slug
    from .sweep import SweepError, best_points, run_sweep, study_from_arguments, study_from_file, summarise

    try:
        with open(args.spec, encoding="utf-8") as f:
            head, _ = parse_yaml(f.read(), args.spec)
        is_file = isinstance(head, dict) and "specs" in head and "ngdsl" not in head
        study = study_from_file(args.spec, args) if is_file else study_from_arguments(args)
    except SweepError as exc:
        print(f"{args.spec}: error: {exc}", file=sys.stderr)
        return 2
    name = args.name or os.path.splitext(os.path.basename(args.spec))[0] + "-sweep"
    root = os.path.join(args.out, slug(name))
    points = study.points()
    print(f"sweep '{name}': {len(points)} runs ({len(study.specs)} spec(s) × {len(study.combinations())} "
          f"point(s) × {study.seeds} seed(s)) into {root}", file=sys.stderr)
    rows = run_sweep(study, root, args.scheduler, args.workers, args.quiet,
                     say=lambda text: print(text, file=sys.stderr))
    failed = [r for r in rows if r["status"] != "completed"]
    swept = list(study.axes) + list(study.random)
    measured = sorted({k for r in rows for k in r if k.startswith(("final_", "best_"))})
    key, best = best_points(summarise(rows, swept, measured)[1])
    if key:
        print(f"best points by {key} (mean ± std over seeds):")
        for row in best:
            what = ", ".join(f"{k}={row[k]}" for k in swept) or "(no swept values)"
            spec = f"{os.path.basename(row['spec'])}: " if len(study.specs) > 1 else ""
            print(f"  {spec}{what}: {row[key + '_mean']:.4f} ± {row[key + '_std']:.4f} ({row['runs'] - row['failed']} "
                  "runs)")
    for row in failed:
        print(f"{row['spec']} seed {row['seed']} {dict((k, row[k]) for k in swept)}: {row['status']}: "
              f"{row.get('message', '')}", file=sys.stderr)
    print(f"results: {os.path.join(root, 'results.csv')}, {os.path.join(root, 'summary.csv')}")
    return 1 if failed else 0


def cmd_compare(args):
    from .compare import CompareError, collect, default_metric, metrics_of, plot, table

    try:
        comparison = collect(args.paths)
        metric = args.metric or default_metric(comparison)
        if metric not in metrics_of(comparison):
            known = ", ".join(metrics_of(comparison)) or "none"
            raise CompareError(f"not every run recorded '{metric}'; they all have: {known}")
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [("", "runs", f"final {metric}", f"best {metric}", "best epoch")]
    for label, runs, final, final_sd, best, best_sd, epoch in table(comparison, metric):
        rows.append((label, runs, f"{final:.4f} ± {final_sd:.4f}", f"{best:.4f} ± {best_sd:.4f}", f"{epoch:.1f}"))
    print(_table(rows))
    if comparison.skipped:
        print(f"left out: {comparison.skipped} failed run(s) or unreadable record(s)", file=sys.stderr)
    if not args.no_plots:
        sweep = len(args.paths) == 1 and os.path.isfile(os.path.join(args.paths[0], "results.csv"))
        folder = args.out or (os.path.join(args.paths[0], "plots") if sweep else "comparison")
        for path in plot(comparison, metric, folder):
            print(f"wrote {path}")
    return 0


def cmd_viz(args):
    from .viz import draw, phase_lines
    compiled = _compile(args)
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        print(f"error: cannot write {args.output}: there is no folder {folder}", file=sys.stderr)
        return 2
    try:
        used = draw(compiled.graph, args.output, args.renderer, phase_lines(compiled.circuit.schedule))
    except (ValueError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({used})")
    return 0


def cmd_inspect(args):
    from .describe import describe
    compiled = _compile(args)
    print(describe(compiled, code=args.code), end="")
    return 0


def cmd_schema(args):
    from .compiler.schema import build_schema
    text = json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text, end="")
    return 0


def _size(text):
    try:
        from .compiler.memory import parse_size
        return parse_size(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 8G, 512M or 1000000") from None


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return value


def _thread_setting(text):
    from .runtime.threads import parse_threads
    value = parse_threads(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a thread count: a whole number of at least 1, or auto")
    return value


def parser():
    from . import __version__
    p = argparse.ArgumentParser(prog="ngdsl", description="Declarative brain-inspired neural circuits.")
    p.add_argument("--version", action="version", version=f"ngdsl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def spec_command(name, help_):
        s = sub.add_parser(name, help=help_)
        s.add_argument("spec", help="the model spec (YAML)")
        s.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                       help="override a spec value, e.g. --set train.epochs=3 (repeatable)")
        s.add_argument("--max-memory", type=_size, metavar="SIZE",
                       help="refuse a circuit whose arrays need more (e.g. 8G; default: $NGDSL_MEMORY_BUDGET or 80%% "
                            "of the available memory)")
        return s

    spec_command("check", "report every problem in a spec").set_defaults(func=cmd_check)
    s = spec_command("run", "train and evaluate a model, writing a run directory")
    s.add_argument("--epochs", type=_positive, help="override train.epochs (at least 1)")
    s.add_argument("--out", default="runs", help="folder for run directories (default: runs)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("--no-plots", action="store_true", help="write no plots (faster; sweeps)")
    s.add_argument("--threads", type=_thread_setting, help="BLAS threads, a count or auto (default $NGDSL_THREADS, "
                   "the spec's train.threads, $OMP_NUM_THREADS, or 1; auto measures one thread against all cores "
                   "while training and keeps the faster)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue that run from its last checkpoint, up to the "
                   "spec's (or --epochs) total epochs, bit-identically to an uninterrupted run")
    s.set_defaults(func=cmd_run)
    s = spec_command("sweep", "train a spec's variants over seeds on Dask: results.csv, summary.csv, best points")
    s.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", help="values of a spec path "
                   "(repeatable; every combination is run)")
    s.add_argument("--range", action="append", default=[], metavar="KEY=LOW:HIGH:N", help="N evenly spaced values")
    s.add_argument("--log", action="append", default=[], metavar="KEY=LOW:HIGH:N", help="N log-spaced values")
    s.add_argument("--uniform", action="append", default=[], metavar="KEY=LOW:HIGH",
                   help="a value drawn uniformly for each of --draws points")
    s.add_argument("--loguniform", action="append", default=[], metavar="KEY=LOW:HIGH",
                   help="a value drawn log-uniformly for each of --draws points")
    s.add_argument("--draws", type=int, default=0, help="how many random points (--uniform, --loguniform)")
    s.add_argument("--seeds", type=_positive, default=1, help="seeds 0..N-1 per point (the split held fixed)")
    s.add_argument("--epochs", type=_positive, help="override train.epochs")
    s.add_argument("--out", default="sweeps", help="folder for sweeps (default: sweeps)")
    s.add_argument("--name", help="the sweep's folder name (default: the spec's file name + '-sweep'); "
                   "running again into it skips finished runs and resumes interrupted ones")
    s.add_argument("--workers", type=_positive, help="local worker processes (default: one per core)")
    s.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS instead "
                   "(e.g. tcp://10.0.0.5:8786; one you trust: Dask sends tasks to it)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
    s = spec_command("viz", "draw the compiled circuit")
    s.add_argument("-o", "--output", default="circuit.svg", help=".svg, .png or .dot (default circuit.svg)")
    s.add_argument("--renderer", choices=["auto", "graphviz", "matplotlib"], default="auto")
    s.set_defaults(func=cmd_viz)
    s = spec_command("inspect", "print the resolved circuit and its execution plans")
    s.add_argument("--code", action="store_true", help="also print the generated kernel source")
    s.set_defaults(func=cmd_inspect)
    s = sub.add_parser("compare", help="runs and sweeps side by side: a table, learning curves, final values, "
                       "a heat-map of a 2-D sweep")
    s.add_argument("paths", nargs="+", metavar="RUN_OR_SWEEP", help="run directories and sweep folders")
    s.add_argument("--metric", help="what to compare (default: the first test metric the runs recorded)")
    s.add_argument("--out", help="folder for the plots (default: a sweep's own plots/ folder, else ./comparison)")
    s.add_argument("--no-plots", action="store_true", help="print the table only")
    s.set_defaults(func=cmd_compare)
    s = sub.add_parser("schema", help="print the JSON Schema of specs")
    s.add_argument("-o", "--output", help="write it to a file")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    from .compiler import SpecError
    from .runtime import DataError
    try:
        return args.func(args)
    except SpecError as exc:
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        n = len(exc.diagnostics)
        print(f"{n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"{getattr(args, 'spec', 'ngdsl')}: error: data: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. a run folder that cannot be written
        print(f"{getattr(args, 'spec', 'ngdsl')}: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
