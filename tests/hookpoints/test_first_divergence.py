"""The first divergence of a comparison follows execution order, not hook_dict or alias-table order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

import hookpoints
from hookpoints import hookimpl
from hookpoints.extension_points import AliasRule, AliasScheme
from hookpoints.reports.data import build_report


class Backwards(nn.Module):
    """Registers ``late`` before ``early`` but calls ``early`` first (hook_dict order is not run order)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.late = nn.Linear(4, 4)
        self.early = nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.late(self.early(x))


class _TableOrder:
    @hookimpl
    def hookpoints_alias_schemes(self) -> Iterator[AliasScheme]:
        # like TransformerLens's tables: the final norm listed before the first block
        yield AliasScheme(
            "table-order",
            "final first",
            rules=(AliasRule("ln_final", "late.hook_out"), AliasRule("blocks.0", "early.hook_out")),
        )


@pytest.fixture
def scheme() -> Iterator[str]:
    name = hookpoints.plugins.register(_TableOrder(), name="divergence-test")
    yield name
    hookpoints.plugins.unregister(name)


X = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))


def _bump(t: Tensor, *, hook: object) -> Tensor:
    return t + 1


class Forwards(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.early = nn.Linear(4, 4)
        self.late = nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.late(self.early(x))


def test_aliases_are_listed_in_the_order_of_their_points_not_of_the_table(scheme: str) -> None:
    names = list(hookpoints.attach(Forwards(), aliases="table-order").hook_dict)
    assert names[-2:] == ["blocks.0", "ln_final"]  # the table lists ln_final first


@pytest.mark.parametrize("recorded", [False, True], ids=["cache", "recorded"])
def test_first_divergence_follows_execution_order(scheme: str, recorded: bool) -> None:
    hooked = hookpoints.attach(Backwards(), aliases="table-order")
    assert list(hooked.hook_dict).index("late.hook_out") < list(hooked.hook_dict).index("early.hook_out")
    _, clean = hooked.run_with_cache(X)
    with hooked.hooks(fwd_hooks=[("blocks.0", _bump)]):
        _, patched = hooked.run_with_cache(X)
    run = None
    if recorded:
        with hookpoints.record(hooked) as run:
            hooked(X)
    comparison = build_report(hooked, run=run, compare=(clean, patched)).comparison
    assert comparison is not None
    # early.hook_out and its alias blocks.0 change first; late.*, ln_final and hook_out after
    assert comparison.first_divergence in ("early.hook_out", "blocks.0")
    changed = {d.name for d in comparison.diffs if d.max_abs_diff > 0}
    assert changed == {"early.hook_out", "blocks.0", "late.hook_in", "late.hook_out", "ln_final", "hook_out"}
    text = hookpoints.report(hooked, run=run, compare=(clean, patched), reporter="text")
    assert f"first divergence at {comparison.first_divergence}" in text


def test_first_divergence_of_alias_only_caches(scheme: str) -> None:
    hooked = hookpoints.attach(Backwards(), aliases="table-order")
    _, clean = hooked.run_with_cache(X, names_filter=["ln_final", "blocks.0"])
    _, patched = hooked.run_with_cache(X, names_filter=["ln_final", "blocks.0"], device="cpu")
    patched = hookpoints.ActivationCache({k: v + (k == "blocks.0") for k, v in patched.items()})
    patched["ln_final"] = patched["ln_final"] + 1  # both changed: the first is the one run first
    comparison = build_report(hooked, compare=(clean, patched)).comparison
    assert comparison is not None and comparison.first_divergence == "blocks.0"
