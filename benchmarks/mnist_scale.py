"""``python -m benchmarks.mnist_scale [--epochs N]``: epochs over an MNIST-sized IDX file.

Writes 60,000 × 784 images and their labels as gzip-compressed MNIST IDX files (class prototypes
plus noise, so the circuits have something to learn), then trains the PC and backprop MLPs
(784-256-256-10, batch 64, one BLAS thread) on them, each in a fresh process: seconds per epoch
(training batches; evaluation apart), resident memory after each epoch, peak memory."""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from .workloads import HERE

EXAMPLES, SIDE, CLASSES = 60_000, 28, 10
SPECS = {"PC 784-256-256-10": "pc_mlp.yaml", "BP 784-256-256-10": "bp_mlp.yaml"}


def write_idx(path, array):
    """``array`` (uint8) as an MNIST IDX file, gzip-compressed."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_dataset(folder, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0, 255, size=(CLASSES, SIDE, SIDE))
    labels = rng.integers(0, CLASSES, size=EXAMPLES)
    images = np.empty((EXAMPLES, SIDE, SIDE), np.uint8)
    for start in range(0, EXAMPLES, 10_000):     # in blocks: no float64 copy of the whole set
        block = labels[start:start + 10_000]
        noisy = prototypes[block] + rng.normal(0, 80, size=(len(block), SIDE, SIDE))
        images[start:start + 10_000] = np.clip(noisy, 0, 255)
    paths = os.path.join(folder, "train-images-idx3-ubyte.gz"), os.path.join(folder, "train-labels-idx1-ubyte.gz")
    write_idx(paths[0], images)
    write_idx(paths[1], labels)
    return paths


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child(spec, images, labels, epochs):
    """In a fresh process: train ``epochs`` epochs and print the measurements as JSON."""
    import ngdsl
    start = time.perf_counter()
    model = ngdsl.load(spec, set=[f"data={{dataset: files, x: {images}, y: {labels}, test_fraction: 0.1, batch: 64}}",
                                  "metrics=[accuracy]"], threads=1)
    ready = time.perf_counter() - start
    records, resident = [], []
    model.fit(epochs, on_epoch=lambda r: (records.append(r), resident.append(round(rss_mb(), 1))))
    print(json.dumps({"ready_seconds": ready, "epoch_seconds": [r["seconds"] for r in records],
                      "test_accuracy": records[-1]["test_accuracy"], "rss_mb": resident,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.mnist_scale", description=__doc__)
    p.add_argument("--epochs", type=int, default=3, help="epochs per circuit (default 3)")
    p.add_argument("--child", nargs=3, metavar=("SPEC", "IMAGES", "LABELS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(*args.child, args.epochs)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        images, labels = write_dataset(folder)
        print(f"{EXAMPLES:,} × {SIDE * SIDE} MNIST-format IDX files written in {time.perf_counter() - started:.1f} s "
              f"({os.path.getsize(images) / 2**20:.0f} MB compressed); {args.epochs} epochs each, batch 64, "
              f"90% for training", flush=True)
        for name, spec in SPECS.items():
            out = subprocess.run([sys.executable, "-m", "benchmarks.mnist_scale", "--epochs", str(args.epochs),
                                  "--child", os.path.join(HERE, "specs", spec), images, labels],
                                 capture_output=True, text=True, cwd=os.path.dirname(HERE), check=True,
                                 env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
            row = json.loads(out.stdout.strip().splitlines()[-1])
            seconds = ", ".join(f"{s:.1f}" for s in row["epoch_seconds"])
            print(f"== {name}\n  epoch     {seconds} s (ready after {row['ready_seconds']:.1f} s); "
                  f"test accuracy {row['test_accuracy']:.3f}\n"
                  f"  memory    peak {row['peak_mb']:.0f} MB   resident after each epoch {row['rss_mb']} MB", flush=True)


if __name__ == "__main__":
    main()
