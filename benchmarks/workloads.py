"""The circuits the benchmarks time: specs in ``benchmarks/specs`` and how to scale them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Workload:
    name: str
    spec: str
    steps: list            # override keys of the phases' steps (scaled together for the T exponent)
    width: tuple           # (override template, small, large) for the width exponent
    numpy: bool = False    # compare with the plain NumPy PC implementation
    overrides: list = field(default_factory=list)

    @property
    def path(self):
        return os.path.join(HERE, "specs", self.spec)


WORKLOADS = [
    Workload("pc-mlp 784-256-256-10", "pc_mlp.yaml", ["schedule.train[0].steps"],
             ("components.{z1,z2}.size", 128, 512), numpy=True),
    Workload("pc-mlp 64-128-10", "pc_mlp_small.yaml", ["schedule.train[0].steps"],
             ("components.{z1}.size", 64, 256), numpy=True),
    Workload("bp-mlp 784-256-256-10", "bp_mlp.yaml", [],
             ("components.{h1,h2,d1,d2}.size", 128, 512)),
    Workload("eqprop 784-500-10", "eqprop_mlp.yaml", ["schedule.train[0].steps", "schedule.train[1].steps"],
             ("components.{h}.size", 250, 1000)),
]
