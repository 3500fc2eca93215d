"""Diagnostics: what the compiler says about a spec, at ``file:line:col``."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec, with its source position (1-based)."""

    message: str
    file: str = "<spec>"
    line: int = 0
    col: int = 0
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file  # line 0: no place in the text
        return visible(f"{where}: {self.severity}: {self.message}")


def visible(text: str) -> str:
    """``text`` with control characters written as escapes: a value quoted from a spec can neither
    break a message over lines nor send escape sequences to the terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))


class SpecError(Exception):
    """A spec cannot be compiled; ``diagnostics`` lists every problem found."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def did_you_mean(name, candidates) -> str:
    """A ``" (did you mean 'x'?)"`` suffix when a candidate is close to ``name``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
