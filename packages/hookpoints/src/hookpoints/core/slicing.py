"""``Slice``: the position selection used by ``run_with_cache(pos_slice=...)``.

Same inputs and meaning as TransformerLens's ``Slice``: ``None`` keeps everything, a tuple
is ``slice(*t)``, a list, array or tensor picks indices (negative ones count from the end),
and an int indexes. As in TransformerLens, ``Slice(3)`` drops the dimension while
``Slice.unwrap(3)`` (what ``pos_slice=3`` goes through) keeps a length-1 position dimension,
so a cache sliced at one position keeps the shape of the others. TransformerLens's own
``Slice`` objects are accepted wherever a ``Slice`` is.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Union

import torch
from torch import Tensor

from ..errors import SliceInputError, SliceRangeError

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
            self.mode, self.slice = "slice", _checked_slice(input_slice, input_slice)
        elif isinstance(input_slice, tuple):
            if len(input_slice) > 3:
                raise SliceInputError(
                    f"pos_slice={input_slice!r}: a tuple holds slice arguments (start, stop, step), "
                    f"at most 3; got {len(input_slice)}"
                )
            self.mode, self.slice = "slice", _checked_slice(slice(*input_slice), input_slice)
        elif isinstance(input_slice, (list, Tensor)) or _is_array(input_slice):
            self.mode, self.slice = "array", _index_tensor(input_slice)
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
            kept = cls([slice_input])
            kept.__dict__["_given"] = slice_input  # errors quote what the caller wrote
            return kept
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
        """Select along ``dim`` (an int index removes that dimension).

        An index outside the dimension is a :class:`~hookpoints.errors.SliceRangeError` naming
        ``pos_slice``, the length and (inside a hook point's dispatch) the point.
        """
        if self.mode == "identity":
            return tensor
        if self.mode == "array":
            if (
                self.slice.numel()
                and not -tensor.shape[dim] <= self._bounds[0] <= self._bounds[1] < tensor.shape[dim]
            ):
                self._out_of_range(tensor, dim)
            index = self.slice.to(tensor.device)
            if self._bounds[0] < 0:
                index = index % tensor.shape[dim]
            return tensor.index_select(dim, index)
        if self.mode == "int" and not -tensor.shape[dim] <= self.slice < tensor.shape[dim]:
            self._out_of_range(tensor, dim)
        index_tuple: list[Any] = [slice(None)] * tensor.ndim
        index_tuple[dim] = self.slice
        return tensor[tuple(index_tuple)]

    @property
    def _bounds(self) -> tuple[int, int]:
        """(min, max) of an index array, computed once (the indices live on the CPU)."""
        bounds: tuple[int, int] | None = self.__dict__.get("_bounds_cache")
        if bounds is None:
            values = self.slice
            bounds = (int(values.min()), int(values.max())) if values.numel() else (0, 0)
            self.__dict__["_bounds_cache"] = bounds
        return bounds

    def _out_of_range(self, tensor: Tensor, dim: int) -> None:
        from .stack import at_point

        length = tensor.shape[dim]
        given = self.slice if self.mode == "int" else self.slice.tolist()
        bad = given if self.mode == "int" else next(i for i in given if not -length <= i < length)
        raise SliceRangeError(
            f"pos_slice={self.__dict__.get('_given', given)!r}{at_point()}: index {bad} is out of range "
            f"for {length} positions "
            f"(dimension {dim} of an activation of shape {tuple(tensor.shape)}); "
            f"expected indices in [-{length}, {length - 1}]"
        )

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


def _checked_slice(value: slice, given: object) -> slice:
    """A slice whose bounds are ints or None and whose step is not 0 (refused before any forward)."""
    for part in ("start", "stop", "step"):
        bound = getattr(value, part)
        if bound is None:
            continue
        try:
            operator.index(bound)
        except TypeError:
            raise SliceInputError(
                f"pos_slice={given!r}: slice {part} must be an int or None; got {type(bound).__name__}"
            ) from None
    if value.step is not None and operator.index(value.step) == 0:
        raise SliceInputError(f"pos_slice={given!r}: the slice step must not be 0")
    return value


def _index_tensor(value: Any) -> Tensor:
    """A list, array or tensor of positions as a 1-D long tensor; non-integer indices are refused."""
    if isinstance(value, list) and any(isinstance(v, bool) or not _is_int(v) for v in value):
        bad = next(v for v in value if isinstance(v, bool) or not _is_int(v))
        raise SliceInputError(
            f"pos_slice={value!r}: a list picks positions and must hold ints; "
            f"got {type(bad).__name__} {bad!r}"
        )
    tensor = (
        torch.as_tensor(value) if not isinstance(value, list) or value else torch.empty(0, dtype=torch.long)
    )
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise SliceInputError(
            f"pos_slice: an array or tensor of positions must hold integers; got dtype {tensor.dtype}"
        )
    return tensor.to(torch.long).reshape(-1).cpu()


def _is_int(value: object) -> bool:
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


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
