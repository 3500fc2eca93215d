import os
import subprocess
import sys

import pytest

import ngdsl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "specs")


def spec_path(name):
    return os.path.join(SPECS, name)


def load(name, *overrides, jit=True):
    """A model from specs/<name> with ``key=value`` overrides."""
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
