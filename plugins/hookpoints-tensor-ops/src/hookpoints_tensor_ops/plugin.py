"""The plugin module named by the ``tensor_ops`` entry point: the conversion steps it contributes."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import ConversionStep

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
    ConversionStep("reshape", "x.reshape(shape); revert restores the original's shape", Reshape),
    ConversionStep("split_heads", "[..., n_heads*d_head] -> [..., n_heads, d_head]", SplitHeads),
    ConversionStep("merge_heads", "[..., n_heads, d_head] -> [..., n_heads*d_head]", MergeHeads),
    ConversionStep("permute", "x.permute(dims); revert by the inverse permutation", Permute),
    ConversionStep("transpose", "x.transpose(dim0, dim1); its own inverse", Transpose),
    ConversionStep(
        "select_chunk",
        "chunk index of chunks equal parts along dim (q of a fused qkv); revert writes it back",
        SelectChunk,
    ),
    ConversionStep("add", "x + value; revert subtracts", Add),
    ConversionStep("sub", "x - value; revert adds", Sub),
    ConversionStep("mul", "x * value (non-zero); revert divides", Mul),
    ConversionStep("div", "x / value (non-zero); revert multiplies", Div),
    ConversionStep("cast", "x.to(dtype); revert casts back to the original's dtype", Cast),
    ConversionStep("chain", "several steps in order; revert undoes them in reverse order", Chain),
    ConversionStep("callable_pair", "your convert_fn, and revert_fn (without it: read-only)", CallablePair),
)


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield from STEPS
