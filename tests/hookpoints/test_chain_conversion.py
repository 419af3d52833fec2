"""ChainConversion: the chain behind alias schemes and the tensor-ops ``chain`` step."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from hookpoints import HookPoint, NonInvertibleConversionError
from hookpoints.conversions.base import ChainConversion


class Recorder:
    """A duck-typed step that records what each direction received."""

    def __init__(self, log: list[tuple[str, str, Any]], name: str, factor: float) -> None:
        self.log, self.name, self.factor = log, name, factor

    def convert(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append(("convert", self.name, x.clone()))
        return x * self.factor

    def revert(self, view: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        self.log.append(("revert", self.name, original.clone()))
        return view / self.factor


class Unrecorded(Recorder):
    """Like Recorder, but its revert needs no original."""

    def revert(self, view: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        self.log.append(("revert", self.name, None))
        return view / self.factor


def test_chain_reverts_in_reverse_order_each_against_its_own_input() -> None:
    log: list[tuple[str, str, Any]] = []
    chain = ChainConversion([Recorder(log, "a", 2.0), Recorder(log, "b", 4.0)])
    x = torch.ones(3)
    view = chain.convert(x)
    assert [(d, n) for d, n, _ in log] == [("convert", "a"), ("convert", "b")]
    log.clear()
    assert torch.equal(chain.revert(view, x), x)
    # Intermediates recomputed from the original (convert a), then b and a reverted in that order,
    # each given the input it converted: b got x * 2, a got x.
    assert [(d, n) for d, n, _ in log] == [("convert", "a"), ("revert", "b"), ("revert", "a")]
    assert torch.equal(log[1][2], x * 2) and torch.equal(log[2][2], x)


def test_chain_recomputes_intermediates_only_up_to_the_last_step_needing_one() -> None:
    log: list[tuple[str, str, Any]] = []
    chain = ChainConversion([Recorder(log, "a", 2.0), Unrecorded(log, "b", 4.0), Unrecorded(log, "c", 8.0)])
    x = torch.ones(3)
    view = chain.convert(x)
    log.clear()
    assert torch.equal(chain.revert(view, x), x)
    assert [(d, n) for d, n, _ in log] == [("revert", "c"), ("revert", "b"), ("revert", "a")]


def test_chain_with_a_read_only_step_reads_but_refuses_edits_on_a_hook_point() -> None:
    class ReadOnly:
        invertible = False

        def convert(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(-1, keepdim=True)

        def revert(self, view: torch.Tensor) -> torch.Tensor:
            raise AssertionError("never called: the chain refuses first")

    chain = ChainConversion([Recorder([], "a", 2.0), ReadOnly()])
    assert chain.invertible is False and chain.convert_returns_view is False
    point = HookPoint(name="p")
    point.enable_reshape(chain)
    seen: list[torch.Tensor] = []
    point.add_hook(lambda t, hook: seen.append(t))
    x = torch.ones(2, 3)
    assert point(x) is x and torch.equal(seen[0], torch.full((2, 1), 6.0))
    point.add_hook(lambda t, hook: t * 0)
    with pytest.raises(NonInvertibleConversionError, match="'p'.*chain: step 1 .* is read-only"):
        point(x)


def test_empty_chain_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        ChainConversion([])
