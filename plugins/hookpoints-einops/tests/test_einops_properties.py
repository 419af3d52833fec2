"""Property tests: rearrange and repeat round trips, edits and gradients against hand-made ones."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import einops
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor

from hookpoints.plugins import conversion_steps
from hookpoints.testing import (
    FLOATS,
    INTS,
    LAYOUTS,
    Index,
    assert_same,
    check_edit_and_gradient,
    check_roundtrip,
    make_tensor,
    property_settings,
    shapes,
)
from hookpoints.testing import ViewExample as Example

Draw = Callable[[st.SearchStrategy[Any]], Any]

SETTINGS = property_settings()


def unravel(flat: int, shape: Sequence[int]) -> Index:
    out = []
    for n in reversed(shape):
        out.append(flat % n)
        flat //= n
    return tuple(reversed(out))


def draw_input(
    draw: Draw, shape: Sequence[int], dtypes: Sequence[torch.dtype] = FLOATS + INTS
) -> tuple[Tensor, int]:
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    layout = draw(st.sampled_from(LAYOUTS))
    return make_tensor(shape, dtype, seed, layout), seed


# ---------------------------------------------------------------------------- rearrange
@st.composite
def split_heads_case(draw: Draw) -> Example:
    batch = draw(shapes(min_dims=0, max_dims=3))
    h, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, seed = draw_input(draw, (*batch, h * d))
    lengths = draw(st.sampled_from([{"h": h}, {"d": d}, {"h": h, "d": d}]))

    def to_full(p: Index) -> Index:
        *b, i, j = p
        return (*b, i * d + j)

    return Example(
        conversion_steps.create("rearrange", pattern="... (h d) -> ... h d", **lengths), x, to_full, seed=seed
    )


@st.composite
def merge_heads_case(draw: Draw) -> Example:
    b, p, h, d = (draw(st.integers(1, 4)) for _ in range(4))
    x, seed = draw_input(draw, (b, p, h, d))

    def to_full(q: Index) -> Index:
        return (q[0], q[1], q[2] // d, q[2] % d)

    return Example(
        conversion_steps.create("rearrange", pattern="b p h d -> b p (h d)"), x, to_full, seed=seed
    )


@st.composite
def permute_case(draw: Draw) -> Example:
    x, seed = draw_input(draw, draw(shapes(min_dims=3, max_dims=3)))
    return Example(
        conversion_steps.create("rearrange", pattern="b p d -> p d b"),
        x,
        lambda q: (q[2], q[0], q[1]),
        seed=seed,
    )


@st.composite
def regroup_case(draw: Draw) -> Example:
    """(a b) c -> a (b c): reverting needs the original (b and c are not in the view)."""
    a, b, c = (draw(st.integers(1, 4)) for _ in range(3))
    x, seed = draw_input(draw, (a * b, c))

    def to_full(q: Index) -> Index:
        i, k = q
        return (i * b + k // c, k % c)

    return Example(
        conversion_steps.create("rearrange", pattern="(a b) c -> a (b c)", a=a), x, to_full, seed=seed
    )


@st.composite
def ellipsis_case(draw: Draw) -> Example:
    """b ... -> (...) b: how many axes '...' stands for comes from the original."""
    shape = draw(shapes(min_dims=1, max_dims=4))
    x, seed = draw_input(draw, shape)
    rest = shape[1:]

    def to_full(q: Index) -> Index:
        flat, b = q
        return (b, *unravel(flat, rest))

    return Example(conversion_steps.create("rearrange", pattern="b ... -> (...) b"), x, to_full, seed=seed)


@st.composite
def unit_axes_case(draw: Draw) -> Example:
    b, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, seed = draw_input(draw, (b, 1, d))
    return Example(
        conversion_steps.create("rearrange", pattern="b 1 d -> d () b 1"),
        x,
        lambda q: (q[2], 0, q[0]),
        seed=seed,
    )


REARRANGE: dict[str, st.SearchStrategy[Example]] = {
    "... (h d) -> ... h d": split_heads_case(),
    "b p h d -> b p (h d)": merge_heads_case(),
    "b p d -> p d b": permute_case(),
    "(a b) c -> a (b c)": regroup_case(),
    "b ... -> (...) b": ellipsis_case(),
    "b 1 d -> d () b 1": unit_axes_case(),
}


@pytest.mark.parametrize("case", list(REARRANGE))
@SETTINGS
@given(data=st.data())
def test_rearrange_revert_of_convert_is_exact(case: str, data: st.DataObject) -> None:
    check_roundtrip(data.draw(REARRANGE[case]))


@pytest.mark.parametrize("case", list(REARRANGE))
@SETTINGS
@given(data=st.data())
def test_rearrange_edit_and_gradient_equal_hand_made(case: str, data: st.DataObject) -> None:
    check_edit_and_gradient(data.draw(REARRANGE[case]))


# ---------------------------------------------------------------------------- repeat
@st.composite
def repeat_case(draw: Draw) -> tuple[Any, Tensor, int, int]:
    """(conversion, x, copies, seed) for several repeat patterns."""
    kind = draw(st.sampled_from(["new axis", "interleave", "anonymous", "ellipsis", "unit"]))
    r = draw(st.integers(1, 4))
    if kind == "new axis":
        x, seed = draw_input(draw, draw(shapes(min_dims=1, max_dims=3)))
        return conversion_steps.create("repeat", pattern="... d -> ... r d", r=r), x, r, seed
    if kind == "interleave":
        x, seed = draw_input(draw, draw(shapes(min_dims=2, max_dims=2)))
        return conversion_steps.create("repeat", pattern="b d -> b (d r)", r=r), x, r, seed
    if kind == "anonymous":
        x, seed = draw_input(draw, draw(shapes(min_dims=2, max_dims=2)))
        return conversion_steps.create("repeat", pattern="b d -> (r b) d 3", r=r), x, 3 * r, seed
    if kind == "ellipsis":
        x, seed = draw_input(draw, draw(shapes(min_dims=1, max_dims=3)))
        return conversion_steps.create("repeat", pattern="b ... -> b (... r)", r=r), x, r, seed
    b, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x, seed = draw_input(draw, (b, 1, d))
    return conversion_steps.create("repeat", pattern="b 1 d -> b r d", r=r), x, r, seed


def copies_of(conversion: Any, x: Tensor) -> Tensor:
    """For each element of x (row-major), the flat view positions of its copies: [numel, copies]."""
    index = torch.arange(x.numel()).reshape(x.shape)
    repeated = einops.repeat(index, conversion.pattern, **conversion.axes_lengths).flatten()
    order = torch.argsort(repeated, stable=True)
    return order.reshape(x.numel(), -1)


@SETTINGS
@given(case=repeat_case())
def test_repeat_revert_of_convert_is_exact(case: tuple[Any, Tensor, int, int]) -> None:
    conversion, x, copies, seed = case
    view = conversion.convert(x)
    assert view.numel() == x.numel() * copies
    check_roundtrip(Example(conversion, x, seed=seed))


def edit_copies(view: Tensor, flat_positions: Tensor, op: Callable[[Tensor], Tensor]) -> Tensor:
    edited = view.clone().flatten()
    edited[flat_positions] = op(edited[flat_positions])
    return edited.reshape(view.shape)


@SETTINGS
@given(case=repeat_case())
def test_repeat_edit_made_to_every_copy_equals_the_edit_by_hand(case: tuple[Any, Tensor, int, int]) -> None:
    """Edits applied alike to all copies of an element come back exactly, gradients too."""
    conversion, x, _, seed = case
    where = copies_of(conversion, x)
    rng = random.Random(seed)
    elements = sorted({rng.randrange(x.numel()) for _ in range(3)})

    def through(t: Tensor) -> Tensor:
        view = conversion.convert(t)
        for i in elements:
            view = edit_copies(view, where[i], lambda v: v * 3)
        return conversion.revert(view, t)  # type: ignore[no-any-return]

    def by_hand(t: Tensor) -> Tensor:
        t = t.clone()
        for i in elements:
            q = unravel(i, x.shape)
            t[q] = t[q] * 3
        return t

    assert_same(through(x), by_hand(x), f"{conversion!r}: edit of every copy")
    if x.dtype.is_floating_point:
        weight = make_tensor(x.shape, x.dtype, seed + 1, "contiguous")
        a, b = x.detach().clone().requires_grad_(True), x.detach().clone().requires_grad_(True)
        (through(a) * weight).sum().backward()
        (by_hand(b) * weight).sum().backward()
        # The mean's weights 1/copies need not sum to exactly 1 in floating point.
        torch.testing.assert_close(a.grad, b.grad)


@SETTINGS
@given(case=repeat_case(), copy=st.integers(0, 11))
def test_repeat_edit_of_one_copy_moves_the_activation_by_its_share(
    case: tuple[Any, Tensor, int, int], copy: int
) -> None:
    """Revert is the mean over the copies: editing one of r copies moves x by 1/r of the edit."""
    conversion, x, copies, _ = case
    x = x.to(torch.float64)
    where = copies_of(conversion, x)
    k = copy % copies
    edited = edit_copies(conversion.convert(x), where[:, k], lambda v: v + 6.0)
    torch.testing.assert_close(conversion.revert(edited, x), x + 6.0 / copies)


def test_repeat_mean_is_bit_exact_where_a_plain_mean_is_not() -> None:
    x = torch.randn(1000, dtype=torch.float32, generator=torch.Generator().manual_seed(0)) * 1000
    step = conversion_steps.create("repeat", pattern="n -> n r", r=3)
    view = step.convert(x)
    assert not torch.equal(view.mean(-1), x), "premise: a plain float mean of 3 equal copies rounds"
    assert torch.equal(step.revert(view, x), x)


def test_repeat_integer_revert_is_the_floor_of_the_mean() -> None:
    step = conversion_steps.create("repeat", pattern="n -> n r", r=4)
    x = torch.tensor([10, -10], dtype=torch.int32)
    view = step.convert(x).clone()
    view[:, 0] += 3  # mean moves by 3/4
    back = step.revert(view, x)
    assert back.dtype == torch.int32 and torch.equal(back, torch.tensor([10, -10], dtype=torch.int32))
    view[:, 1] += 1  # now by 1
    assert torch.equal(step.revert(view, x), torch.tensor([11, -9], dtype=torch.int32))
