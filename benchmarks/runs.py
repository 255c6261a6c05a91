"""Repeated runs for the benchmarks: median and spread, the machine's load, the commit.

Why this exists: one run of a benchmark on a shared 2-core machine moved by ±10–25 % between
runs (issue 20: 590/s in docs/performance.md, 392/s on a re-run). A figure is only worth
writing down when it says how often it was measured, how far the runs spread, how busy the
machine was before and during each run, and which code produced it. The benchmarks
(``load.py``, ``line_webhook.py``, ``pipeline_turns.py``) take ``--runs N`` and use:

* :func:`header` — commit (``git rev-parse --short HEAD`` and a dirty flag), CPU count,
  load average now;
* :class:`LoadSampler` — ``/proc/loadavg`` just before a run and sampled during it;
* :class:`Figures` — named values collected over the runs, printed as
  ``median (min–max, n=N)``.

Standard library only, so the harness stays lean.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def add_runs_argument(ap: argparse.ArgumentParser, default: int = 3) -> None:
    """The shared ``--runs`` option."""
    ap.add_argument("--runs", type=int, default=default,
                    help=f"run each configuration N times; print median and min–max (default {default})")


def commit() -> str:
    """Short commit of the working tree, with ``-dirty`` when tracked files are modified."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        # why --untracked-files=no: benchmark output files lying around do not change the code
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{rev}{'-dirty' if dirty else ''}"


def loadavg() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages from ``/proc/loadavg``."""
    try:
        first = Path("/proc/loadavg").read_text().split()[:3]
        return float(first[0]), float(first[1]), float(first[2])
    except (OSError, ValueError, IndexError):
        return (float("nan"),) * 3


def header(name: str, runs: int) -> str:
    """One line that says what produced the figures below it."""
    one, five, fifteen = loadavg()
    return (f"{name}: commit {commit()}, {os.cpu_count()} CPUs, {runs} run(s) per configuration, "
            f"load average now {one:.2f} {five:.2f} {fifteen:.2f}")


class LoadSampler:
    """``/proc/loadavg`` before a run and every ``interval`` seconds during it (a daemon thread).

    The 1-minute load average lags: it says what the machine did over the last minute, so
    "during" is a range of samples, and "before" taken right at the start mostly shows the
    previous run. Both are printed; neither is subtracted from anything.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.before = loadavg()[0]
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(loadavg()[0])

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval + 1)
        if not self.samples:
            self.samples.append(loadavg()[0])

    def line(self) -> str:
        during = self.samples or [loadavg()[0]]
        return (f"load average before {self.before:.2f}, during {min(during):.2f}–{max(during):.2f} "
                f"(mean {statistics.fmean(during):.2f}, {len(during)} samples)")


def spread(values: list[float], fmt: str = ".1f") -> str:
    """``median (min–max, n=N)``; ``–`` for no values."""
    vals = [v for v in values if v == v]  # why: drop NaN (a step that never ran)
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:{fmt}} (n=1)"
    return f"{statistics.median(vals):{fmt}} ({min(vals):{fmt}}–{max(vals):{fmt}}, n={len(vals)})"


@dataclass
class Figures:
    """Named figures collected over repeated runs, in first-seen order."""

    values: dict[str, list[float]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: float, fmt: str = ".1f") -> None:
        self.values.setdefault(name, []).append(value)
        self.formats.setdefault(name, fmt)

    def median(self, name: str) -> float:
        vals = [v for v in self.values.get(name, []) if v == v]
        return statistics.median(vals) if vals else float("nan")

    def lines(self, indent: str = "  ") -> list[str]:
        width = max((len(k) for k in self.values), default=0)
        return [f"{indent}{k:<{width}}  {spread(v, self.formats[k])}" for k, v in self.values.items()]

    def report(self, title: str, indent: str = "  ") -> str:
        return "\n".join([title, *self.lines(indent)])
