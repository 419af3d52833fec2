"""The README's main job: the demo runs and ends with a hook report."""

from __future__ import annotations

import subprocess
import sys

from hookpoints import format_hook_report
from hookpoints.demo import run_demo
from hookpoints.examples import TinyGPT

from .conftest import SMALL


def test_demo_ablation_and_report() -> None:
    text = run_demo(layers=1)
    assert "zero-ablating head 1 of layer 0" in text
    last = text.splitlines()[-1]
    assert last.startswith("21 hook points, 1 with hooks attached, 21 captured")


def test_cli_demo_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hookpoints", "demo", "--layers", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Hook report" in result.stdout


def test_report_marks_points_that_never_fired() -> None:
    model = TinyGPT(SMALL)
    cache = {"hook_embed": model.W_E[:2]}
    report = format_hook_report(model, cache)
    assert "1 captured" in report and f"{len(model.hook_dict) - 1} not captured" in report
    line = next(row for row in report.splitlines() if row.startswith("blocks.0.hook_resid_pre"))
    assert line.split()[1] == "-"
