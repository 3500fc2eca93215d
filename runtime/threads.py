"""How many BLAS threads ngdsl's work uses: a fixed count (one unless asked), or ``auto`` — measured.

More threads pay only for large products on an idle machine. When another process holds a core,
threads that wait for each other lose: measured in one sitting on this 2-core machine with a
spinning neighbour, the 784-256-256-10 PC step took 9.2 ms on two threads against 7.8 ms on one
(idle: 5.0 against 7.8), and earlier OpenBLAS builds collapsed outright (755 against 11.6 ms).
A fixed count of one cannot collapse, so it is the default. ``auto`` times training batches on
one thread and on every core the process may use, keeps the faster, and falls back to one thread
as soon as its batches slow down (a neighbour arrived), trying again after longer and longer
waits. Results then depend on timing at the level of float rounding (a multi-threaded product
sums in another order), so runs that must be bit-identical keep a fixed count."""
from __future__ import annotations

import contextlib
import os
import time
import warnings

_controller = []   # one ThreadpoolController, made once the kernels have loaded their BLAS
STANDARD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_threads(text):
    """A thread setting from text: a whole number of at least 1, or 'auto'; None if it is neither."""
    text = str(text).strip().lower()
    if text == "auto":
        return "auto"
    return int(text) if text.isdigit() and int(text) >= 1 else None


def thread_setting(explicit=None, spec=None):
    """The setting in force: ``explicit`` (``--threads``, ``load(threads=)``), else ``$NGDSL_THREADS``,
    else the spec's ``train.threads``, else the standard variables (``$OMP_NUM_THREADS``, ...),
    else 1. A variable that is not a setting is skipped with a warning."""
    if explicit is not None:
        return explicit
    if "NGDSL_THREADS" in os.environ:
        found = _from_variable("NGDSL_THREADS")
        if found is not None:
            return found
    if spec is not None:
        return spec
    for name in STANDARD_VARIABLES:
        if name in os.environ:
            found = _from_variable(name)
            if found is not None:
                return found
    return 1


def _from_variable(name):
    found = parse_threads(os.environ[name])
    if found is None:
        warnings.warn(f"${name}={os.environ[name]!r} is not a thread count (a whole number of at least 1, "
                      f"or auto); ignored", stacklevel=3)
    return found


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _blas():
    if not _controller:
        from threadpoolctl import ThreadpoolController
        _controller.append(ThreadpoolController().select(user_api="blas"))
    return _controller[0]


def blas_threads(count: int):
    """A context in which every loaded BLAS library uses ``count`` threads (then restored)."""
    return _blas().limit(limits=count)


class ThreadPolicy:
    """Sets the BLAS threads while a model works; ``count`` is the number for the next batch."""

    count = 1

    @contextlib.contextmanager
    def working(self):
        """Work on ``count`` threads inside the block; the threads before it are restored after."""
        with blas_threads(self.count):
            self._in_force = self.count
            yield

    @contextlib.contextmanager
    def batch(self, rows: int):
        """Run one training batch of ``rows`` examples (inside :meth:`working`) and time it."""
        if self.count != self._in_force:
            _blas().limit(limits=self.count)     # the enclosing working() restores the original
            self._in_force = self.count
        start = time.perf_counter()
        yield
        self.observe(rows, time.perf_counter() - start)

    def observe(self, rows: int, seconds: float):
        """A training batch of ``rows`` examples took ``seconds``."""


class FixedThreads(ThreadPolicy):
    """Always ``count`` threads."""

    _untimed = contextlib.nullcontext()

    def __init__(self, count: int):
        self.count = count

    def batch(self, rows: int):
        """Run one training batch: nothing to set or time (the timed context costs 3 µs, a quarter
        of a batch-of-one trial of a small circuit)."""
        return self._untimed


class MeasuredThreads(ThreadPolicy):
    """``auto``: one thread or ``most``, whichever trains faster now (see the module docstring).

    It times ``PROBE`` batches on each count, alternating, and keeps the count with the lower
    median when it is at least ``GAIN`` faster (else one thread). On many threads it watches the
    median of the last ``PROBE`` batches; past ``SLOWDOWN`` × the one-thread time it drops to one
    thread. Every choice of one thread is re-examined after ``wait`` batches, and ``wait``
    doubles each time the answer stays one thread, so a busy machine pays for ever fewer probes."""

    PROBE, GAIN, SLOWDOWN, FIRST_WAIT = 3, 0.9, 1.1, 64

    def __init__(self, most: int):
        self.most = most
        self.wait = self.FIRST_WAIT
        self._probe()

    def _probe(self):
        self.plan = [1, self.most] * self.PROBE   # counts of the next batches; then self.count
        self.samples = {1: [], self.most: []}     # probe times by count
        self.recent = []                          # the last batch times on many threads
        self.count = self.plan[0]
        self.rows = None

    def observe(self, rows: int, seconds: float):
        if self.rows is None:
            self.rows = rows
        if rows != self.rows:          # a short last batch says nothing about speed
            return
        if self.plan:
            self.samples[self.plan.pop(0)].append(seconds)
            if self.plan:
                self.count = self.plan[0]
            else:
                self._choose()
            return
        if self.count == self.most:
            self.recent = (self.recent + [seconds])[-self.PROBE:]
            if len(self.recent) == self.PROBE and _median(self.recent) > self.SLOWDOWN * self.one_thread:
                self.count, self.left = 1, self.wait
                self.wait *= 2
            return
        self.left -= 1
        if self.left <= 0:
            self._probe()

    def _choose(self):
        self.one_thread = _median(self.samples[1])
        faster = _median(self.samples[self.most]) <= self.GAIN * self.one_thread
        if faster:
            self.count, self.wait = self.most, self.FIRST_WAIT
        else:
            self.count, self.left = 1, self.wait
            self.wait *= 2


def _median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def thread_policy(setting):
    """The policy for a setting: :class:`MeasuredThreads` for 'auto' on a machine with more than one
    usable core, else :class:`FixedThreads`."""
    if setting == "auto":
        cores = usable_cores()
        return MeasuredThreads(cores) if cores > 1 else FixedThreads(1)
    return FixedThreads(setting)
