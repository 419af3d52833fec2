"""hookpoints-tensor-ops: reversible tensor views for ``HookPoint.enable_reshape``.

Steps (by name): ``reshape``, ``split_heads``, ``merge_heads``, ``permute``, ``transpose``,
``select_chunk``, ``add``, ``sub``, ``mul``, ``div``, ``cast``, ``chain``, ``callable_pair``.
"""

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
    TensorOp,
    Transpose,
)

__version__ = "0.1.0"

__all__ = [
    "Add",
    "CallablePair",
    "Cast",
    "Chain",
    "Div",
    "MergeHeads",
    "Mul",
    "Permute",
    "Reshape",
    "SelectChunk",
    "SplitHeads",
    "Sub",
    "TensorOp",
    "Transpose",
]
