"""The README's main job: the demo runs, patches, and ends with a hook report."""

from __future__ import annotations

import subprocess
import sys

from hookpoints import format_hook_report
from hookpoints.demo import run_demo
from hookpoints.examples import TinyGPT

from .conftest import SMALL


def test_demo_ablation_comparison_and_report() -> None:
    text = run_demo(layers=1, reporter="text", width=140)
    assert "zero-ablating head 1 of layer 0" in text
    assert "clean vs patched: first divergence at blocks.0.attn.hook_z" in text
    assert "21 hook points, 1 with hooks attached, 21 with activations" in text
    row = next(line for line in text.splitlines() if line.startswith("blocks.0.attn.hook_z "))
    assert "fwd:demo_parts.ablate_head" in row  # the patch shows in the report


def test_cli_demo_runs_and_ends_with_report() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hookpoints", "demo", "--layers", "1", "--reporter", "text"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Hook report" in result.stdout and "rel norm" in result.stdout.splitlines()[-12]


def test_format_hook_report_marks_points_without_activations() -> None:
    model = TinyGPT(SMALL)
    report = format_hook_report(model, {"hook_embed": model.W_E[:2]}, width=120)
    assert f"{len(model.hook_dict)} hook points, 0 with hooks attached, 1 with activations" in report
    line = next(row for row in report.splitlines() if row.startswith("blocks.0.hook_resid_pre"))
    assert line.split()[1] == "-"
