import os
import subprocess
import sys

import pytest

import ngdsl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "specs")


def spec_path(name):
    return os.path.join(SPECS, name)


#: what runs a loaded model: "jit" (the generated kernels) or "numpy" (the plan, unoptimised, operator by
#: operator in runtime.interpreter); tests/test_oracles.py runs every oracle on both
BACKEND = "jit"


def load(name, *overrides, jit=True):
    """A model from specs/<name> with ``key=value`` overrides, run by BACKEND."""
    if BACKEND == "numpy":
        return ngdsl.load(spec_path(name), set=list(overrides), optimize=False, interpret=True)
    return ngdsl.load(spec_path(name), set=list(overrides), jit=jit)


def run_cli(*args, cwd=None):
    """Run ``python -m ngdsl ...`` in a subprocess; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "ngdsl", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)


@pytest.fixture
def write_spec(tmp_path):
    def write(text, name="spec.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write
