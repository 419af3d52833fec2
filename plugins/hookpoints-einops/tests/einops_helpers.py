"""Shared pieces of the einops tests: input tensors, and what an "edit by hand" means.

A test case draws an :class:`Example`: a conversion, an input ``x`` and, written out by hand
for that step, where each position of the view lives in ``x`` (``to_full``) and which
elementwise maps take an element of ``x`` to the view and back (``fwd`` / ``inv``). An
edit of view positions is then repeated by hand on ``x`` through those maps.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from torch import Tensor

import hookpoints

hookpoints.conversions.available()  # load the plugins now, not inside a hypothesis draw

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = (torch.float32, torch.float64, torch.bfloat16)
INTS = (torch.int64, torch.int32)
LAYOUTS = ("contiguous", "transposed", "strided")

Index = tuple[int, ...]


def make_tensor(
    shape: Sequence[int], dtype: torch.dtype, seed: int, layout: str, grid: bool = False
) -> Tensor:
    """Random values in ``shape`` and ``dtype``, laid out contiguously or not.

    ``grid``: multiples of 1/4 in [-16, 16], so small sums are exact in every dtype.
    """
    generator = torch.Generator().manual_seed(seed)

    def fill(size: Sequence[int]) -> Tensor:
        if grid or not dtype.is_floating_point:
            low, high = (-64, 65) if grid else (-100, 100)
            values = torch.randint(low, high, tuple(size), generator=generator)
            return (values / 4).to(dtype) if dtype.is_floating_point else values.to(dtype)
        return torch.randn(tuple(size), generator=generator, dtype=torch.float64).to(dtype)

    shape = tuple(shape)
    if layout == "transposed" and len(shape) >= 2:
        return fill(shape[::-1]).permute(*reversed(range(len(shape))))
    if layout == "strided" and shape:
        return fill((*shape[:-1], 2 * shape[-1]))[..., ::2]
    return fill(shape)


def shapes(min_dims: int = 1, max_dims: int = 4, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@dataclasses.dataclass
class Example:
    conversion: Any
    x: Tensor
    to_full: Callable[[Index], Index] = lambda p: p
    fwd: Callable[[Tensor, Index], Tensor] = lambda t, q: t
    inv: Callable[[Tensor, Index], Tensor] = lambda t, q: t
    seed: int = 0


def create(name: str, **params: Any) -> Any:
    return hookpoints.conversions.create(name, **params)


def positions(shape: Sequence[int], seed: int, count: int = 2) -> list[Index]:
    rng = random.Random(seed)
    return [tuple(rng.randrange(n) for n in shape) for _ in range(count)]


EDITS: tuple[Callable[[Tensor], Tensor], ...] = (lambda t: t * 3, lambda t: t * 0)


def edit_view(view: Tensor, where: list[Index]) -> Tensor:
    """The edit a hook makes: scale one element by 3 and zero another (out of place)."""
    edited = view.clone()
    for p, op in zip(where, EDITS, strict=False):
        edited[p] = op(edited[p])
    return edited


def edit_by_hand(ex: Example, x: Tensor, where: list[Index]) -> Tensor:
    """The same edit made on the full tensor, through the step's maps written by hand."""
    edited = x.clone()
    for p, op in zip(where, EDITS, strict=False):
        q = ex.to_full(p)
        edited[q] = ex.inv(op(ex.fwd(edited[q], q)), q)
    return edited


def assert_same(actual: Tensor, expected: Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert torch.equal(actual, expected), f"{what}: values differ"


def check_roundtrip(ex: Example) -> None:
    conversion, x = ex.conversion, ex.x
    view = conversion.convert(x)
    assert_same(conversion.revert(view, x), x, f"{conversion!r}: revert(convert(x), x)")
    # What a hook returns is a new tensor, usually contiguous: the same values must come back.
    assert_same(conversion.revert(view.clone(), x), x, f"{conversion!r}: revert(clone)")
    assert_same(conversion.revert(view.contiguous(), x.contiguous()), x, f"{conversion!r}: contiguous")


def check_edit_and_gradient(ex: Example) -> None:
    conversion, x = ex.conversion, ex.x
    where = positions(conversion.convert(x).shape, ex.seed)
    through = conversion.revert(edit_view(conversion.convert(x), where), x)
    assert_same(through, edit_by_hand(ex, x, where), f"{conversion!r}: edit through the view")
    if not x.dtype.is_floating_point:
        return
    weight = make_tensor(x.shape, x.dtype, ex.seed + 1, "contiguous")
    leaf_a = x.detach().clone().requires_grad_(True)
    leaf_b = x.detach().clone().requires_grad_(True)
    (conversion.revert(edit_view(conversion.convert(leaf_a), where), leaf_a) * weight).sum().backward()
    (edit_by_hand(ex, leaf_b, where) * weight).sum().backward()
    assert leaf_a.grad is not None and leaf_b.grad is not None
    assert_same(leaf_a.grad, leaf_b.grad, f"{conversion!r}: gradient through the edited view")
