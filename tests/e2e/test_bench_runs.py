"""benchmarks/runs.py: the repeated-runs summary the benchmarks print (median, min–max, load, commit)."""
from __future__ import annotations

import argparse
import re

from benchmarks import runs


def test_spread_is_median_and_range_with_the_count():
    assert runs.spread([3.0, 1.0, 2.0]) == "2.0 (1.0–3.0, n=3)"
    assert runs.spread([5.0], ".2f") == "5.00 (n=1)"
    assert runs.spread([]) == "–"
    assert runs.spread([float("nan"), 4.0, 2.0]) == "3.0 (2.0–4.0, n=2)"  # a step that never ran


def test_figures_keep_their_order_and_format():
    f = runs.Figures()
    for v in (400.0, 300.0, 350.0):
        f.add("processed/s", v, ".0f")
        f.add("cpu ms/ev", v / 100, ".2f")
    assert f.median("processed/s") == 350.0
    assert f.lines() == ["  processed/s  350 (300–400, n=3)", "  cpu ms/ev    3.50 (3.00–4.00, n=3)"]


def test_header_names_commit_cpus_runs_and_load():
    line = runs.header("load.py", 3)
    assert re.search(r"commit [0-9a-f]{7,}(-dirty)?,", line) or "not a git checkout" in line
    assert "3 run(s)" in line and "CPUs" in line and "load average now" in line


def test_load_sampler_reports_before_and_during():
    with runs.LoadSampler(interval=0.01) as sampler:
        pass
    assert re.fullmatch(r"load average before [\d.]+, during [\d.]+–[\d.]+ \(mean [\d.]+, \d+ samples\)", sampler.line())


def test_runs_option_defaults_to_three():
    ap = argparse.ArgumentParser()
    runs.add_runs_argument(ap)
    assert ap.parse_args([]).runs == 3 and ap.parse_args(["--runs", "5"]).runs == 5
