"""The plugin module named by the ``tensor_ops`` entry point: the conversion steps it contributes."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.descriptors import ConversionStep

from .steps import (
    Add,
    CallablePair,
    Cast,
    Chain,
    Div,
    MergeHeads,
    Mul,
    Permute,
    Reshape,
    SelectChunk,
    SplitHeads,
    Sub,
    Transpose,
)

STEPS = (
    ConversionStep(
        "reshape", "x.reshape(shape); revert restores the original's shape", Reshape, parameters=("shape",)
    ),
    ConversionStep(
        "split_heads",
        "[..., n_heads*d_head] -> [..., n_heads, d_head]",
        SplitHeads,
        parameters=("n_heads",),
    ),
    ConversionStep(
        "merge_heads",
        "[..., n_heads, d_head] -> [..., n_heads*d_head]",
        MergeHeads,
        parameters=("n_heads",),
    ),
    ConversionStep(
        "permute", "x.permute(dims); revert by the inverse permutation", Permute, parameters=("dims",)
    ),
    ConversionStep(
        "transpose", "x.transpose(dim0, dim1); its own inverse", Transpose, parameters=("dim0", "dim1")
    ),
    ConversionStep(
        "select_chunk",
        "chunk index of chunks equal parts along dim (q of a fused qkv); revert writes it back",
        SelectChunk,
        parameters=("index", "chunks", "dim"),
    ),
    ConversionStep("add", "x + value; revert subtracts", Add, parameters=("value",)),
    ConversionStep("sub", "x - value; revert adds", Sub, parameters=("value",)),
    ConversionStep("mul", "x * value (non-zero); revert divides", Mul, parameters=("value",)),
    ConversionStep("div", "x / value (non-zero); revert multiplies", Div, parameters=("value",)),
    ConversionStep(
        "cast", "x.to(dtype); revert casts back to the original's dtype", Cast, parameters=("dtype",)
    ),
    ConversionStep(
        "chain",
        "several steps in order; revert undoes them in reverse order",
        Chain,
        parameters=("steps",),
    ),
    ConversionStep(
        "callable_pair",
        "your convert_fn, and revert_fn (without it: read-only)",
        CallablePair,
        parameters=("convert_fn", "revert_fn"),
    ),
)


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield from STEPS
