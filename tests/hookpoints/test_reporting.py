"""Reports: content, never-fired points, NaN/Inf counts, comparisons, text/json reporters, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from importlib import resources

import jsonschema
import pytest
import torch
from torch import Tensor

import hookpoints
from hookpoints import HookPoint, build_report, compare_caches, record
from hookpoints.core.names import hook_display_name
from hookpoints.reports.data import ActivationStats
from hookpoints.testing import ARITH_INPUT as INPUT
from hookpoints.testing import Arith

from .snapshot import assert_snapshot

WIDTHS = (60, 120)


def tag(t: Tensor, *, hook: HookPoint) -> None:
    return None


def plant_nan(t: Tensor, *, hook: HookPoint) -> Tensor:
    t = t.clone()
    t[0, 0] = float("nan")
    t[1, 1] = float("inf")
    return t


def scenario() -> dict[str, hookpoints.reports.data.HookReport]:
    model = Arith()
    model.add_perma_hook("block.hook_mid", tag)
    with torch.no_grad():
        _, clean = model.run_with_cache(INPUT)
        with model.hooks([("block.hook_mid", plant_nan)]):
            _, patched = model.run_with_cache(INPUT)
            with record(model) as run:
                model(INPUT)
    for entry in run.points.values():
        entry.hook_seconds = 0.001  # wall-clock time is not snapshot material
    return {
        "inventory": build_report(model),
        "cache": build_report(model, clean),
        "run": build_report(model, run=run),
        "comparison": build_report(model, clean, compare=(clean, patched)),
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", ["inventory", "cache", "run", "comparison"])
def test_text_reporter_snapshots(case: str, width: int) -> None:
    text = hookpoints.reports.create("text").render(scenario()[case], width=width)
    assert all(len(line) <= width for line in text.splitlines())
    assert_snapshot(f"text-{case}-{width}.txt", text)


def test_width_comes_from_argument_not_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    report = scenario()["run"]
    monkeypatch.delenv("COLUMNS", raising=False)
    wide = hookpoints.reports.create("text").render(report, width=120)
    monkeypatch.setenv("COLUMNS", "33")
    assert hookpoints.reports.create("text").render(report, width=120) == wide
    assert max(len(line) for line in wide.splitlines()) > 33  # the terminal width would have cut it
    model = Arith()
    assert max(len(line) for line in hookpoints.report(model, reporter="text", width=70).splitlines()) <= 70


def test_never_fired_point_is_called_out() -> None:
    report = scenario()["run"]
    assert report.never_fired == ["block.hook_unused"]
    text = hookpoints.reports.create("text").render(report, width=120)
    assert "never fired (1): block.hook_unused" in text
    row = next(line for line in text.splitlines() if line.startswith("block.hook_unused"))
    assert "never fired" in row
    data = json.loads(hookpoints.reports.create("json").render(report))
    assert data["summary"]["never_fired"] == ["block.hook_unused"]
    assert next(p for p in data["hook_points"] if p["name"] == "block.hook_unused")["fired"] == 0


def test_planted_nan_and_inf_are_counted_exactly() -> None:
    report = scenario()["run"]
    mid = next(p for p in report.points if p.name == "block.hook_mid")
    out = next(p for p in report.points if p.name == "hook_out")
    assert (mid.stats.nan, mid.stats.inf) == (1, 1)  # type: ignore[union-attr]
    assert (out.stats.nan, out.stats.inf) == (1, 1)  # type: ignore[union-attr]
    assert mid.stats.mean == 5.0 and mid.stats.absmax == 6.0  # finite values 4, 6  # type: ignore[union-attr]
    assert report.anomalies == ["block.hook_mid", "hook_out"]


def test_stats_of_plain_tensor() -> None:
    stats = ActivationStats.of(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert stats.shape == (2, 2) and stats.bytes == 16 and stats.dtype == "float32"
    assert stats.mean == 2.5 and stats.std == pytest.approx(math.sqrt(1.25)) and stats.absmax == 4.0
    empty = ActivationStats.of(torch.zeros(0))
    assert empty.mean is None and empty.absmax is None
    ints = ActivationStats.of(torch.tensor([1, -3]))
    assert ints.absmax == 3.0 and ints.dtype == "int64"


def test_json_reporter_validates_against_schema() -> None:
    schema = json.loads(resources.files("hookpoints.reports").joinpath("report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for case, report in scenario().items():
        data = json.loads(hookpoints.reports.create("json").render(report))
        jsonschema.validate(data, schema)
        assert data["schema"] == "hookpoints.report/1", case


def test_json_hooks_describe_owner_and_permanence() -> None:
    model = Arith()
    model.add_perma_hook("hook_in", tag)
    with model.hooks([("hook_in", tag)]):
        data = json.loads(hookpoints.report(model, reporter="json"))
    hooks = next(p for p in data["hook_points"] if p["name"] == "hook_in")["hooks"]
    assert [(h["permanent"], h["scoped"], h["level"]) for h in hooks] == [
        (True, False, None),
        (False, True, 1),
    ]
    assert hooks[0]["hook"].endswith("tag")


def test_compare_caches_orders_and_finds_first_divergence() -> None:
    clean = {"a": torch.ones(3), "b": torch.ones(3), "c": torch.ones(2), "d": torch.ones(1)}
    patched = {"a": torch.ones(3), "b": torch.tensor([1.0, 1.0, 4.0]), "c": torch.ones(3), "e": torch.ones(1)}
    comparison = compare_caches(clean, patched, order=["a", "b", "c", "d"])
    assert comparison.first_divergence == "b"
    assert [d.name for d in comparison.diffs] == ["c", "b", "a"]  # shape change ranks first
    b = next(d for d in comparison.diffs if d.name == "b")
    assert b.max_abs_diff == 3.0 and b.rel_norm == pytest.approx(3.0 / math.sqrt(3))
    assert comparison.only_in_clean == ("d",) and comparison.only_in_patched == ("e",)
    assert compare_caches(clean, clean).first_divergence is None


def test_compare_treats_equal_masks_as_unchanged() -> None:
    masked = torch.tensor([0.5, -math.inf, math.nan])
    comparison = compare_caches({"s": masked}, {"s": masked.clone()})
    assert comparison.first_divergence is None and comparison.diffs[0].max_abs_diff == 0.0


def test_record_counts_every_call_and_times_hooks() -> None:
    model = Arith()

    def slow(t: torch.Tensor, *, hook: object) -> None:
        time.sleep(0.01)

    model.add_hook("hook_in", slow)
    with record(model, names_filter=["hook_in", "hook_out"]) as run:
        model(INPUT)
        model(INPUT)
        assert len(model.hook_in.fwd_hooks) == 3  # the recorder's two around the user's
    assert run.points["hook_in"].fired == 2 and run.points["hook_in"].hook_seconds >= 0.02
    assert run.points["hook_out"].hook_seconds < 0.01
    assert [h.user_hook for h in model.hook_in.fwd_hooks] == [slow]  # recorder gone
    report = build_report(model, run=run)
    assert [h.hook for h in report.points[0].hooks] == [hook_display_name(slow)]
    assert report.points[1].fired is None  # not watched


def test_record_unknown_name() -> None:
    with pytest.raises(hookpoints.HookNameError, match="hook_ot"), record(Arith(), names_filter=["hook_ot"]):
        pass


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hookpoints", *args], capture_output=True, text=True)


def test_cli_report_runs_a_factory() -> None:
    result = _cli(
        "report",
        "hookpoints.testing:Arith",
        "--input",
        "torch.ones(2, 2)",
        "--reporter",
        "text",
        "--width",
        "100",
    )
    assert result.returncode == 0, result.stderr
    assert "never fired (1): block.hook_unused" in result.stdout


def test_cli_svg_needs_a_reporter_that_exports() -> None:
    result = _cli("report", "hookpoints.testing:Arith", "--reporter", "text", "--svg", "x.svg")
    assert (
        result.returncode == 2
        and "reporter 'text' cannot export SVG; install hookpoints-rich" in result.stderr
    )


def test_cli_report_bad_factory() -> None:
    result = _cli("report", "nocolon")
    assert result.returncode == 2 and "expected MODULE:FACTORY" in result.stderr


def test_a_causal_mask_is_counted_not_alarming() -> None:
    from hookpoints.examples import TinyGPT, TinyGPTConfig

    model = TinyGPT(TinyGPTConfig(n_layers=1))
    with torch.no_grad():
        _, cache = model.run_with_cache(torch.zeros(1, 4, dtype=torch.long))
    report = build_report(model, cache)
    assert report.anomalies == []  # -inf above the diagonal is the mask, not a problem
    assert report.infinite == ["blocks.0.attn.hook_attn_scores"]
    text = hookpoints.reports.create("text").render(report, width=120)
    assert "NaN at" not in text and "infinities, no NaN (e.g. masks) at (1)" in text
    cache["blocks.0.hook_resid_pre"][0, 0, 0] = float("nan")
    assert build_report(model, cache).anomalies == ["blocks.0.hook_resid_pre"]


def test_never_fired_skips_containers_and_dropout_in_eval() -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)])
            self.drop = torch.nn.Dropout(0.1)
            self.unused = torch.nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = layer(x)
            return self.drop(x) if self.training else x  # skipped in eval, as models do

    hooked = hookpoints.attach(Net().eval())
    with torch.no_grad(), record(hooked) as run:
        hooked(torch.ones(1, 3))
    report = build_report(hooked, run=run)
    assert report.never_fired == ["unused.hook_in", "unused.hook_out"]
    quiet = {p.name for p in report.points if not p.expected_to_fire}
    assert quiet == {"layers.hook_in", "layers.hook_out", "drop.hook_in", "drop.hook_out"}
