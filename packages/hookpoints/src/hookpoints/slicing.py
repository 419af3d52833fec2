"""``Slice``: the position selection used by ``run_with_cache(pos_slice=...)``.

Same inputs and meaning as TransformerLens's ``Slice`` (an int drops the dimension, a tuple
is ``slice(*t)``, a list or tensor picks indices, ``None`` keeps everything), without the
numpy dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import torch
from torch import Tensor

SliceInput = Union[None, int, slice, Sequence[int], Tensor]


class Slice:
    """A reusable selection along one dimension."""

    def __init__(self, input_slice: SliceInput = None) -> None:
        self.mode: str
        self.slice: Any
        if input_slice is None:
            self.mode, self.slice = "identity", slice(None)
        elif isinstance(input_slice, bool):
            raise TypeError("pos_slice must be an int, tuple, slice, list or tensor, not bool")
        elif isinstance(input_slice, int):
            self.mode, self.slice = "int", input_slice
        elif isinstance(input_slice, slice):
            self.mode, self.slice = "slice", input_slice
        elif isinstance(input_slice, tuple):
            self.mode, self.slice = "slice", slice(*input_slice)
        elif isinstance(input_slice, (list, Tensor)):
            self.mode, self.slice = "array", torch.as_tensor(input_slice, dtype=torch.long)
        else:
            raise TypeError(
                "pos_slice must be None, an int, a tuple (slice arguments), a slice, a list of "
                f"indices or a tensor of indices; got {type(input_slice).__name__}"
            )

    @classmethod
    def unwrap(cls, slice_input: Slice | SliceInput) -> Slice:
        return slice_input if isinstance(slice_input, Slice) else cls(slice_input)

    @property
    def is_identity(self) -> bool:
        return self.mode == "identity"

    def apply(self, tensor: Tensor, dim: int = 0) -> Tensor:
        """Select along ``dim`` (an int index removes that dimension)."""
        if self.mode == "identity":
            return tensor
        if self.mode == "array":
            return tensor.index_select(dim, self.slice.to(tensor.device))
        index: list[Any] = [slice(None)] * tensor.ndim
        index[dim] = self.slice
        return tensor[tuple(index)]

    def indices(self, max_ctx: int | None = None) -> Tensor:
        """The selected positions as a 1-D tensor (``max_ctx`` needed for slices)."""
        if self.mode == "int":
            return torch.tensor([self.slice])
        if self.mode == "array":
            return self.slice  # type: ignore[no-any-return]
        if max_ctx is None:
            raise ValueError("max_ctx is needed to list the indices of a slice")
        return torch.arange(max_ctx)[self.slice]

    def __repr__(self) -> str:
        return f"Slice({self.slice!r})"
