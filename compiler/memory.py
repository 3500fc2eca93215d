"""How much memory a compiled circuit takes, estimated from its plan before anything is allocated.

The estimate counts the arrays a run holds: parameters with their ΔW, optimizer state and update
scratch; the signal buffers of every batch size a run uses (the batch, and the shorter last
batches of the train and test splits); and the dataset as generated or loaded (float64), split
(a float64 copy) and cast (the plan's dtype). The interpreter, numba and the libraries come on top (about 200 MB)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .expressions import PAIR_NODES
from .ops import Measure, Signal

#: optimizer -> how many arrays of state it keeps per learnable parameter
_OPTIMIZER_ARRAYS = {"sgd": 0, "momentum": 1, "adam": 2, "rmsprop": 1}
#: distinct batch sizes a run allocates buffers for: the batch, and the last batches of two splits
_BATCH_SIZES = 3


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run's arrays take, by kind, and the single largest array's owner."""

    parameters: int
    buffers: int
    data: int
    largest: tuple   # (bytes, 'cable' | 'component' | 'data', name)

    @property
    def total(self) -> int:
        return self.parameters + self.buffers + self.data


def estimate(plan, data_rows: int, data_widths) -> MemoryEstimate:
    """The memory estimate of ``plan`` with ``data_rows`` examples of the given widths."""
    item = np.dtype(plan.dtype).itemsize
    optimizer = next(iter(plan.train["optimizer"]))
    per_learnable = 2 + _OPTIMIZER_ARRAYS[optimizer]   # the array, its ΔW, its state; + scratch below
    parameters, owners = 0, {}   # (kind, name) -> bytes
    for p in plan.parameters.values():
        size = int(np.prod(p.shape)) * item * (per_learnable + 1 if p.learnable else 1)
        parameters += size
        owners[("cable", p.cable)] = owners.get(("cable", p.cable), 0) + size
    batch = min(plan.data["batch"], max(data_rows, 1))
    buffers = 0
    for signal, width in plan.signals.items():
        # a persistent state also keeps its chains: a batch of rows of its own
        size = (_BATCH_SIZES + (signal in plan.persistent)) * batch * width * item
        buffers += size
        owner = ("cable" if signal.compartment == "product" else "component", signal.component)
        owners[owner] = owners.get(owner, 0) + size
    pairs = _BATCH_SIZES * _pair_buffers(plan) * batch * batch * item
    if pairs:
        buffers += pairs
        owners[("component", "terms over pairs of examples")] = pairs
    data = data_rows * sum(data_widths) * (8 + 8 + item)
    owners[("data", "data")] = data
    largest = max((size, *owner) for owner, size in owners.items())
    return MemoryEstimate(parameters, buffers, data, largest)


def _pair_buffers(plan) -> int:
    """At most how many (batch × batch) buffers the expressions over pairs of examples take: one per
    distinct node of every measure value that holds such terms."""
    values = {op.value for routine in plan.routines.values() for segment in routine.segments
              for phase in segment.phases for op in (*phase.setup, *phase.hoisted, *phase.step, *phase.settle)
              if isinstance(op, Measure)}
    nodes = set()
    for value in values:
        walked = set(value.walk())
        if any(isinstance(node, PAIR_NODES) for node in walked):
            nodes |= {node for node in walked if not isinstance(node, Signal)}
    return len(nodes)


def available() -> int:
    """Memory this machine can give a run: MemAvailable from /proc/meminfo, else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_budget() -> int:
    """$NGDSL_MEMORY_BUDGET (e.g. '8G', '512M', bytes), or 80% of the memory available now."""
    text = os.environ.get("NGDSL_MEMORY_BUDGET")
    return parse_size(text) if text else int(0.8 * available())


def parse_size(text: str) -> int:
    """'8G', '512M', '64K' or a number of bytes; ValueError otherwise."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
    value = float(text[:-1] if scale > 1 else text)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(text)
    return int(value * scale)


def human(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def over_budget(found: MemoryEstimate, budget: int, smap) -> list:
    """A located error when the estimate exceeds ``budget`` bytes, naming the largest owner."""
    if found.total <= budget:
        return []
    size, kind, name = found.largest
    path = {"cable": ("cables", name), "component": ("components", name), "data": ("data",)}[kind]
    what = "the data" if kind == "data" else f"{kind} '{name}'"
    return [smap.diagnostic(path, f"this circuit needs about {human(found.total)} (parameters "
                                  f"{human(found.parameters)}, buffers {human(found.buffers)}, data "
                                  f"{human(found.data)}) but the budget is {human(budget)}; the largest part is "
                                  f"{what} ({human(size)}). Make it smaller, or raise the budget with "
                                  f"--max-memory / NGDSL_MEMORY_BUDGET", key=kind != "data")]
