"""Run in a fresh process: compile (or load from cache) a spec, train a few epochs of batches,
and report compile time, time to ready, resident memory per epoch and peak memory as JSON."""
import json
import resource
import sys
import time

START = time.perf_counter()


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main(argv):
    import ngdsl
    spec, overrides = argv[0], argv[1:]
    model = ngdsl.load(spec, set=overrides)
    ready = time.perf_counter() - START
    x, y = model.data.x_train[:64].copy(), model.data.y_train[:64].copy()
    per_epoch = []
    for _ in range(5):
        for _ in range(20):
            model.executor.train_batch(x, y)
        per_epoch.append(round(rss_mb(), 1))
    print(json.dumps({"compile_seconds": model.compile_seconds, "ready_seconds": ready, "rss_mb": per_epoch,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
