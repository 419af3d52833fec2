"""The rich reporter: default when installed, conformance, snapshots, colour, SVG/HTML export."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from hookpoints_rich import RichReporter, export_html, export_svg

import hookpoints
from hookpoints import HookPoint, build_report, record
from hookpoints.testing import ARITH_INPUT, Arith, check_reporter, small_gpt

SNAPSHOTS = Path(__file__).parent / "snapshots"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plant_nan(t: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
    t = t.clone()
    t[0, 0] = float("nan")
    return t


def reports() -> dict[str, hookpoints.reports.data.HookReport]:
    model = Arith()
    x = ARITH_INPUT
    with torch.no_grad():
        _, clean = model.run_with_cache(x)
        with model.hooks([("block.hook_mid", plant_nan)]):
            _, patched = model.run_with_cache(x)
            with record(model) as run:
                model(x)
            inventory = build_report(model)
    for entry in run.points.values():
        entry.hook_seconds = 0.0
    return {
        "inventory": inventory,
        "run": build_report(model, run=run),
        "comparison": build_report(model, clean, compare=(clean, patched)),
    }


def test_rich_is_the_default_reporter_when_installed() -> None:
    assert hookpoints.reports.default().name == "rich"
    assert hookpoints.reports.source("rich").distribution == "hookpoints-rich"


@pytest.mark.parametrize("width", [50, 80, 120])
def test_conforms(width: int) -> None:
    check_reporter("rich", width=width)


@pytest.mark.parametrize("case", ["inventory", "run", "comparison"])
def test_snapshots(case: str) -> None:
    text = RichReporter().render(reports()[case], width=80)
    path = SNAPSHOTS / f"rich-{case}-80.txt"
    if not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text + "\n")
    assert text == path.read_text().rstrip("\n")


def test_colour_marks_nan_and_never_fired_only_when_asked() -> None:
    report = reports()["run"]
    plain = RichReporter().render(report, width=100)
    coloured = RichReporter().render(report, width=100, color=True)
    assert not ANSI.search(plain) and ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain
    red = "\x1b[1;31m"
    unused_row = next(line for line in coloured.splitlines() if "hook_unused" in line and "│" in line)
    assert f"{red}never fired\x1b[0m" in unused_row
    nan_row = next(line for line in coloured.splitlines() if "hook_mid" in line and "│" in line)
    assert f"{red}1/0\x1b[0m" in nan_row
    clean_row = next(line for line in coloured.splitlines() if "hook_in" in line and "│" in line)
    assert red not in clean_row


def test_svg_export_is_a_valid_svg_naming_the_points(tmp_path: Path) -> None:
    path = export_svg(reports()["run"], tmp_path / "report.svg", width=90)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = path.read_text()
    for name in ("hook_mid", "hook_unused", "never", "fired"):
        assert name in text


def test_html_export(tmp_path: Path) -> None:
    path = export_html(reports()["comparison"], tmp_path / "report.html", width=90)
    html = path.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "first divergence at" in html


def test_report_function_uses_rich_by_default() -> None:
    text = hookpoints.report(Arith(), width=60)
    assert "Arith" in text and "hook_mid" in text and max(len(line) for line in text.splitlines()) <= 60


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_tables_are_never_cropped(width: int) -> None:
    model = small_gpt()
    model.add_hook("blocks.0.attn.hook_z", plant_nan)
    with torch.no_grad(), record(model) as run:
        model(torch.randint(0, 50, (1, 6)))
    text = RichReporter().render(build_report(model, run=run), width=width)
    rows = [line for line in text.splitlines() if line.startswith(("│", "┃", "┏", "┡", "└"))]
    assert rows and all(line.rstrip()[-1] in "│┃┓┩┘" for line in rows), (
        f"a table was cropped at width {width}"
    )
    hooked_row = next(line for line in rows if "hook_z" in line)
    assert "fwd:" in hooked_row  # the attached hook is still shown, shortened if need be
