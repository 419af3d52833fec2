"""The plugin module named by the ``tensor_ops`` entry point: the conversion steps it contributes.

Factories are ``"module:attribute"`` strings: a step's module is imported when it is first built.
"""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import ConversionStep

_STEPS = "hookpoints_tensor_ops.steps"

STEPS = (
    ConversionStep("reshape", "x.reshape(shape); revert restores the original's shape", f"{_STEPS}:Reshape"),
    ConversionStep("split_heads", "[..., n_heads*d_head] -> [..., n_heads, d_head]", f"{_STEPS}:SplitHeads"),
    ConversionStep("merge_heads", "[..., n_heads, d_head] -> [..., n_heads*d_head]", f"{_STEPS}:MergeHeads"),
    ConversionStep("permute", "x.permute(dims); revert by the inverse permutation", f"{_STEPS}:Permute"),
    ConversionStep("transpose", "x.transpose(dim0, dim1); its own inverse", f"{_STEPS}:Transpose"),
    ConversionStep(
        "select_chunk",
        "chunk index of chunks equal parts along dim (q of a fused qkv); revert writes it back",
        f"{_STEPS}:SelectChunk",
    ),
    ConversionStep("add", "x + value; revert subtracts", f"{_STEPS}:Add"),
    ConversionStep("sub", "x - value; revert adds", f"{_STEPS}:Sub"),
    ConversionStep("mul", "x * value (non-zero); revert divides", f"{_STEPS}:Mul"),
    ConversionStep("div", "x / value (non-zero); revert multiplies", f"{_STEPS}:Div"),
    ConversionStep("cast", "x.to(dtype); revert casts back to the original's dtype", f"{_STEPS}:Cast"),
    ConversionStep("chain", "several steps in order; revert undoes them in reverse order", f"{_STEPS}:Chain"),
    ConversionStep(
        "callable_pair", "your convert_fn, and revert_fn (without it: read-only)", f"{_STEPS}:CallablePair"
    ),
)


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield from STEPS
