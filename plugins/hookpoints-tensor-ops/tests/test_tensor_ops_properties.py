"""Property tests for every step: exact round trips, edits and gradients match hand-made ones.

Inputs vary in shape, dtype (float32, float64, bfloat16 and, where meaningful, int32/int64)
and memory layout (contiguous, transposed, strided).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
    check_edit_and_gradient,
    check_roundtrip,
    make_tensor,
    property_settings,
    shapes,
)
from hookpoints.testing import ViewExample as Example

Draw = Callable[[st.SearchStrategy[Any]], Any]

SETTINGS = property_settings()


def ravel(p: Index, shape: Sequence[int]) -> int:
    flat = 0
    for i, n in zip(p, shape, strict=True):
        flat = flat * n + i
    return flat


def unravel(flat: int, shape: Sequence[int]) -> Index:
    out = []
    for n in reversed(shape):
        out.append(flat % n)
        flat //= n
    return tuple(reversed(out))


def draw_input(
    draw: Draw, shape: Sequence[int], dtypes: Sequence[torch.dtype], grid: bool = False
) -> tuple[Tensor, int]:
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    layout = draw(st.sampled_from(LAYOUTS))
    return make_tensor(shape, dtype, seed, layout, grid=grid), seed


# ---------------------------------------------------------------------------- layout steps
@st.composite
def reshape_case(draw: Draw) -> Example:
    shape = draw(shapes())
    x, seed = draw_input(draw, shape, FLOATS + INTS)
    target = draw(st.sampled_from([(-1,), tuple(reversed(shape)), (-1, shape[-1]), (shape[0], -1, 1)]))
    conversion = conversion_steps.create("reshape", shape=target)
    view_shape = conversion.convert(x).shape
    return Example(conversion, x, lambda p: unravel(ravel(p, view_shape), shape), seed=seed)


@st.composite
def split_heads_case(draw: Draw) -> Example:
    batch = draw(shapes(min_dims=0, max_dims=3))
    n_heads, d_head = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, seed = draw_input(draw, (*batch, n_heads * d_head), FLOATS + INTS)

    def to_full(p: Index) -> Index:
        *b, h, j = p
        return (*b, h * d_head + j)

    return Example(conversion_steps.create("split_heads", n_heads=n_heads), x, to_full, seed=seed)


@st.composite
def merge_heads_case(draw: Draw) -> Example:
    batch = draw(shapes(min_dims=0, max_dims=3))
    n_heads, d_head = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, seed = draw_input(draw, (*batch, n_heads, d_head), FLOATS + INTS)
    params = draw(st.sampled_from([{}, {"n_heads": n_heads}]))

    def to_full(p: Index) -> Index:
        *b, c = p
        return (*b, c // d_head, c % d_head)

    return Example(conversion_steps.create("merge_heads", **params), x, to_full, seed=seed)


@st.composite
def permute_case(draw: Draw) -> Example:
    shape = draw(shapes())
    n = len(shape)
    order = draw(st.permutations(range(n)))
    negative = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    dims = [d - n if neg else d for d, neg in zip(order, negative, strict=True)]
    x, seed = draw_input(draw, shape, FLOATS + INTS)

    def to_full(p: Index) -> Index:
        q = [0] * n
        for k, d in enumerate(order):
            q[d] = p[k]
        return tuple(q)

    return Example(conversion_steps.create("permute", dims=dims), x, to_full, seed=seed)


@st.composite
def transpose_case(draw: Draw) -> Example:
    shape = draw(shapes())
    n = len(shape)
    dim0, dim1 = draw(st.integers(-n, n - 1)), draw(st.integers(-n, n - 1))
    x, seed = draw_input(draw, shape, FLOATS + INTS)
    a, b = dim0 % n, dim1 % n

    def to_full(p: Index) -> Index:
        q = list(p)
        q[a], q[b] = p[b], p[a]
        return tuple(q)

    return Example(conversion_steps.create("transpose", dim0=dim0, dim1=dim1), x, to_full, seed=seed)


@st.composite
def select_chunk_case(draw: Draw) -> Example:
    shape = list(draw(shapes()))
    n = len(shape)
    dim = draw(st.integers(-n, n - 1))
    chunks = draw(st.integers(1, 4))
    index = draw(st.integers(0, chunks - 1))
    size = shape[dim]
    shape[dim] = chunks * size
    x, seed = draw_input(draw, shape, FLOATS + INTS)
    negative_index = draw(st.booleans())

    def to_full(p: Index) -> Index:
        q = list(p)
        q[dim % n] += index * size
        return tuple(q)

    conversion = conversion_steps.create(
        "select_chunk", index=index - chunks if negative_index else index, chunks=chunks, dim=dim
    )
    return Example(conversion, x, to_full, seed=seed)


# ---------------------------------------------------------------------------- value steps
POWERS_OF_TWO = (0.25, 0.5, 2.0, 4.0, -0.5, -2.0)


def _at(value: float | Tensor, shape: Sequence[int], q: Index) -> Any:
    return value.expand(tuple(shape))[q] if isinstance(value, Tensor) else value


@st.composite
def arithmetic_case(draw: Draw, op: str) -> Example:
    shape = draw(shapes())
    x, seed = draw_input(draw, shape, FLOATS + INTS, grid=True)
    integer = not x.dtype.is_floating_point
    if op in ("add", "sub"):
        scalar = draw(st.integers(-50, 50)) if integer else draw(st.integers(-64, 64)) / 4
    elif integer:
        scalar = draw(st.integers(1, 5)) * draw(st.sampled_from([1, -1]))
    else:
        scalar = draw(st.sampled_from(POWERS_OF_TWO))
    value: float | Tensor = scalar
    if draw(st.booleans()):  # a tensor broadcast along the last dimension
        entries = draw(
            st.lists(
                st.just(scalar) | st.sampled_from([scalar * 2, -scalar]),
                min_size=shape[-1],
                max_size=shape[-1],
            )
        )
        value = torch.tensor(entries).to(x.dtype)
    fwd: Callable[[Tensor, Index], Tensor]
    inv: Callable[[Tensor, Index], Tensor]
    if op == "add":
        fwd, inv = (lambda t, q: t + _at(value, shape, q)), (lambda t, q: t - _at(value, shape, q))
    elif op == "sub":
        fwd, inv = (lambda t, q: t - _at(value, shape, q)), (lambda t, q: t + _at(value, shape, q))
    elif op == "mul":
        fwd = lambda t, q: t * _at(value, shape, q)  # noqa: E731
        inv = (lambda t, q: t // _at(value, shape, q)) if integer else (lambda t, q: t / _at(value, shape, q))
    else:
        fwd = lambda t, q: t / _at(value, shape, q)  # noqa: E731
        inv = (
            (lambda t, q: (t * _at(value, shape, q)).round())
            if integer
            else (lambda t, q: t * _at(value, shape, q))
        )
    return Example(conversion_steps.create(op, value=value), x, fwd=fwd, inv=inv, seed=seed)


@st.composite
def cast_case(draw: Draw) -> Example:
    shape = draw(shapes())
    x, seed = draw_input(draw, shape, FLOATS + INTS)
    widening = {torch.bfloat16: ["float32", "float64"]}.get(x.dtype, ["float64"])
    name = draw(st.sampled_from(widening))
    target = draw(st.sampled_from([name, getattr(torch, name)]))
    dtype = getattr(torch, name)
    return Example(
        conversion_steps.create("cast", dtype=target),
        x,
        fwd=lambda t, q: t.to(dtype),
        inv=lambda t, q: t.to(x.dtype),
        seed=seed,
    )


# ---------------------------------------------------------------------------- composition
@st.composite
def chain_qkv_case(draw: Draw) -> Example:
    """q/k/v out of a fused projection, split into heads: needs the recomputed intermediate."""
    batch = draw(shapes(min_dims=0, max_dims=2))
    chunks, n_heads, d_head = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    index = draw(st.integers(0, chunks - 1))
    x, seed = draw_input(draw, (*batch, chunks * n_heads * d_head), FLOATS + INTS)
    steps = [("select_chunk", {"index": index, "chunks": chunks}), ("split_heads", {"n_heads": n_heads})]

    def to_full(p: Index) -> Index:
        *b, h, j = p
        return (*b, index * n_heads * d_head + h * d_head + j)

    return Example(conversion_steps.create("chain", steps=steps), x, to_full, seed=seed)


@st.composite
def chain_heads_first_case(draw: Draw) -> Example:
    """[..., pos, n_heads*d_head] -> [..., n_heads, pos, d_head] (objects and names mixed)."""
    batch = draw(shapes(min_dims=1, max_dims=3))
    n_heads, d_head = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x, seed = draw_input(draw, (*batch, n_heads * d_head), FLOATS + INTS)
    steps = [conversion_steps.create("split_heads", n_heads=n_heads), ("transpose", {"dim0": -3, "dim1": -2})]

    def to_full(p: Index) -> Index:
        *b, h, pos, j = p
        return (*b, pos, h * d_head + j)

    return Example(conversion_steps.create("chain", steps=steps), x, to_full, seed=seed)


@st.composite
def chain_values_case(draw: Draw) -> Example:
    """cast -> mul -> reshape: two steps need their own original (dtype, shape)."""
    shape = draw(shapes())
    x, seed = draw_input(draw, shape, FLOATS + INTS, grid=True)
    steps = [("cast", {"dtype": torch.float64}), ("mul", {"value": 2.0}), ("reshape", {"shape": (-1,)})]
    return Example(
        conversion_steps.create("chain", steps=steps),
        x,
        to_full=lambda p: unravel(p[0], shape),
        fwd=lambda t, q: t.to(torch.float64) * 2,
        inv=lambda t, q: (t / 2).to(x.dtype),
        seed=seed,
    )


@st.composite
def callable_pair_case(draw: Draw) -> Example:
    shape = draw(shapes())
    x, seed = draw_input(draw, shape, FLOATS + INTS)
    last = shape[-1]

    def to_full(p: Index) -> Index:
        return (*p[:-1], last - 1 - p[-1])

    pair = conversion_steps.create(
        "callable_pair", convert_fn=lambda t: t.flip(-1), revert_fn=lambda v: v.flip(-1)
    )
    return Example(pair, x, to_full, seed=seed)


@st.composite
def callable_pair_partial_case(draw: Draw) -> Example:
    """A revert_fn that takes the original: the first k columns, written back into it."""
    shape = draw(shapes())
    x, seed = draw_input(draw, shape, FLOATS + INTS)
    k = draw(st.integers(1, shape[-1]))
    pair = conversion_steps.create(
        "callable_pair",
        convert_fn=lambda t: t[..., :k],
        revert_fn=lambda v, original: torch.cat([v, original[..., k:]], dim=-1),
    )
    return Example(pair, x, seed=seed)


CASES: dict[str, st.SearchStrategy[Example]] = {
    "reshape": reshape_case(),
    "split_heads": split_heads_case(),
    "merge_heads": merge_heads_case(),
    "permute": permute_case(),
    "transpose": transpose_case(),
    "select_chunk": select_chunk_case(),
    "add": arithmetic_case("add"),
    "sub": arithmetic_case("sub"),
    "mul": arithmetic_case("mul"),
    "div": arithmetic_case("div"),
    "cast": cast_case(),
    "chain(select_chunk, split_heads)": chain_qkv_case(),
    "chain(split_heads, transpose)": chain_heads_first_case(),
    "chain(cast, mul, reshape)": chain_values_case(),
    "callable_pair": callable_pair_case(),
    "callable_pair(revert_fn with original)": callable_pair_partial_case(),
}


@pytest.mark.parametrize("case", list(CASES))
@SETTINGS
@given(data=st.data())
def test_revert_of_convert_is_exact(case: str, data: st.DataObject) -> None:
    check_roundtrip(data.draw(CASES[case]))


@pytest.mark.parametrize("case", list(CASES))
@SETTINGS
@given(data=st.data())
def test_edit_through_view_equals_edit_by_hand_and_gradients_match(case: str, data: st.DataObject) -> None:
    check_edit_and_gradient(data.draw(CASES[case]))


def test_every_step_has_property_cases() -> None:
    import hookpoints

    ours = {
        n
        for n in hookpoints.conversions.available()
        if hookpoints.conversions.source(n).plugin == "tensor_ops"
    }
    covered = {case.split("(")[0] for case in CASES}
    assert ours == covered, f"steps without property cases: {sorted(ours - covered)}"
