"""hookpoints-tensor-ops: reversible tensor views for ``HookPoint.enable_reshape``.

Steps (by name): ``reshape``, ``split_heads``, ``merge_heads``, ``permute``, ``transpose``,
``select_chunk``, ``add``, ``sub``, ``mul``, ``div``, ``cast``, ``chain``, ``callable_pair``.
"""

from __future__ import annotations

from hookpoints.plugins import lazy_exports

__version__ = "0.1.0"

# Public names, each imported from its module on first access: hookpoints imports this
# package when it scans its plugins, which must not load the heavy dependencies.
_EXPORTS = {
    "Add": ".steps",
    "CallablePair": ".steps",
    "Cast": ".steps",
    "Chain": ".steps",
    "Div": ".steps",
    "MergeHeads": ".steps",
    "Mul": ".steps",
    "Permute": ".steps",
    "Reshape": ".steps",
    "SelectChunk": ".steps",
    "SplitHeads": ".steps",
    "Sub": ".steps",
    "TensorOp": ".steps",
    "Transpose": ".steps",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
