"""Reports to render: a small GPT (layers, an ablated head, a comparison) and Arith (a NaN, a point that never fires)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from hookpoints import HookPoint, build_report, record
from hookpoints.plugins import HookReport
from hookpoints.testing import ARITH_INPUT, Arith, small_gpt, small_tokens, zero_head


def plant_nan(t: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
    t = t.clone()
    t[0, 0] = float("nan")
    return t


def gpt_reports() -> dict[str, HookReport]:
    """A two-layer GPT: inventory, cached, recorded with a head ablated, and clean vs patched."""
    model = small_gpt()
    tokens = small_tokens()
    with torch.no_grad():
        _, clean = model.run_with_cache(tokens)
        with model.hooks([("blocks.0.attn.hook_z", zero_head(1))]):
            _, patched = model.run_with_cache(tokens)
            with record(model) as run:
                model(tokens)
            inventory = build_report(model)
            comparison = build_report(model, run=run, compare=(clean, patched))
    return {
        "inventory": inventory,
        "cached": build_report(model, clean),
        "comparison": comparison,
        "unchanged": build_report(model, clean, compare=(clean, clean)),
    }


def arith_report() -> HookReport:
    """Recorded run of Arith with a NaN planted at block.hook_mid; block.hook_unused never fires."""
    model = Arith()
    with torch.no_grad(), model.hooks([("block.hook_mid", plant_nan)]):
        with record(model) as run:
            model(ARITH_INPUT)
        return build_report(model, run=run)


@pytest.fixture(scope="session")
def reports() -> dict[str, HookReport]:
    return {**gpt_reports(), "arith": arith_report()}


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where tests leave files worth keeping: $HOOKPOINTS_TEST_ARTIFACTS, else pytest's tmp_path."""
    folder = Path(os.environ.get("HOOKPOINTS_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
