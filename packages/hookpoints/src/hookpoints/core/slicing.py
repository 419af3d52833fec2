"""``Slice``: the position selection used by ``run_with_cache(pos_slice=...)``.

Same inputs and meaning as TransformerLens's ``Slice``: ``None`` keeps everything, a tuple
is ``slice(*t)``, a list, array or tensor picks indices (negative ones count from the end),
and an int indexes. As in TransformerLens, ``Slice(3)`` drops the dimension while
``Slice.unwrap(3)`` (what ``pos_slice=3`` goes through) keeps a length-1 position dimension,
so a cache sliced at one position keeps the shape of the others. TransformerLens's own
``Slice`` objects are accepted wherever a ``Slice`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import torch
from torch import Tensor

from ..errors import SliceInputError

SliceInput = Union[None, int, slice, Sequence[int], Tensor]


class Slice:
    """A reusable selection along one dimension."""

    def __init__(self, input_slice: SliceInput = None) -> None:
        self.mode: str
        self.slice: Any
        if input_slice is None:
            self.mode, self.slice = "identity", slice(None)
        elif isinstance(input_slice, bool):
            raise SliceInputError("pos_slice must be an int, tuple, slice, list or tensor, not bool")
        elif isinstance(input_slice, int):
            self.mode, self.slice = "int", input_slice
        elif isinstance(input_slice, slice):
            self.mode, self.slice = "slice", input_slice
        elif isinstance(input_slice, tuple):
            self.mode, self.slice = "slice", slice(*input_slice)
        elif isinstance(input_slice, (list, Tensor)) or _is_array(input_slice):
            self.mode, self.slice = "array", torch.as_tensor(input_slice, dtype=torch.long).reshape(-1)
        else:
            raise SliceInputError(
                "pos_slice must be None, an int, a tuple (slice arguments), a slice, a list of "
                f"indices or a tensor of indices; got {type(input_slice).__name__}"
            )

    @classmethod
    def unwrap(cls, slice_input: Any) -> Slice:
        """A ``Slice`` for ``slice_input``; an int becomes ``[int]`` so the dimension is kept."""
        if isinstance(slice_input, Slice):
            return slice_input
        mode = getattr(slice_input, "mode", None)
        if isinstance(mode, str) and hasattr(slice_input, "slice"):  # TransformerLens's Slice
            return cls._from_parts(mode, slice_input.slice)
        if isinstance(slice_input, int) and not isinstance(slice_input, bool):
            slice_input = [slice_input]
        return cls(slice_input)

    @classmethod
    def _from_parts(cls, mode: str, value: Any) -> Slice:
        if mode == "array":
            return cls(torch.as_tensor(value, dtype=torch.long))
        if mode in ("int", "slice"):
            return cls(value)
        return cls(None)

    @property
    def is_identity(self) -> bool:
        return self.mode == "identity"

    def apply(self, tensor: Tensor, dim: int = 0) -> Tensor:
        """Select along ``dim`` (an int index removes that dimension)."""
        if self.mode == "identity":
            return tensor
        if self.mode == "array":
            index = self.slice.to(tensor.device)
            if bool((index < 0).any()):
                index = index % tensor.shape[dim]
            return tensor.index_select(dim, index)
        index_tuple: list[Any] = [slice(None)] * tensor.ndim
        index_tuple[dim] = self.slice
        return tensor[tuple(index_tuple)]

    def indices(self, max_ctx: int | None = None) -> Tensor:
        """The selected positions as a 1-D tensor (``max_ctx`` needed for slices)."""
        if self.mode == "int":
            return torch.tensor([self.slice])
        if self.mode == "array":
            if max_ctx is not None:
                return self.slice % max_ctx  # type: ignore[no-any-return]
            return self.slice  # type: ignore[no-any-return]
        if max_ctx is None:
            raise ValueError("max_ctx is needed to list the indices of a slice")
        return torch.arange(max_ctx)[self.slice]

    def __repr__(self) -> str:
        return f"Slice({self.slice!r})"


def _is_array(value: object) -> bool:
    """A numpy array (checked by type name: core never needs to import numpy for this)."""
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


#: Points whose activations are ``[batch, pos, head, d]``: TransformerLens slices them on -3.
PER_HEAD_SUFFIXES = ("hook_q", "hook_k", "hook_v", "hook_z", "hook_result")


def position_dim(name: str | None, declared: int | None = None) -> int:
    """The dimension ``pos_slice`` selects on: ``declared`` if given, else TransformerLens's rule.

    TransformerLens picks -3 for points named ``...hook_q/k/v/z/result`` (per-head tensors)
    and -2 for every other point; a point declares another layout with ``HookPoint(pos_dim=)``.
    """
    if declared is not None:
        return declared
    return -3 if name is not None and name.endswith(PER_HEAD_SUFFIXES) else -2
