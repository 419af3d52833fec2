"""The conversion steps: each gives hooks a view of an activation and writes edits back.

Every step is stateless between calls. ``revert(view, original)`` receives the activation
the view was made from (``HookPoint`` passes it), so a step that needs to know the original
shape, dtype or the rest of a fused tensor reads it from there instead of remembering the
last tensor it converted. A step that cannot write a view back says so
(:class:`~hookpoints.NonInvertibleConversionError`) instead of returning the view unchanged.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from hookpoints import BaseTensorConversion, NonInvertibleConversionError
from hookpoints.plugins import ChainConversion, revert_accepts_original, running_point

__all__ = [
    "Add",
    "Arithmetic",
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


# ---------------------------------------------------------------------------- helpers


def _callable_with_one(fn: Callable[..., Any]) -> bool:
    try:
        inspect.signature(fn).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature available: assume it can
        return True
    return True


def _original(step: str, full_context: tuple[Any, ...], why: str) -> Tensor:
    if not full_context:
        raise TypeError(
            f"{step}: revert needs the original activation {why}; call revert(view, original) "
            "(HookPoint passes it)"
        )
    original = full_context[0]
    if not isinstance(original, Tensor):
        raise TypeError(
            f"{step}: the original passed to revert must be a Tensor; got {type(original).__name__}"
        )
    return original


def _int(step: str, name: str, value: object, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{step}: {name} must be an int; got {type(value).__name__} {value!r}")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"{step}: {name} must be >= {minimum}; got {result}")
    return result


def _at() -> str:
    """``" on hook point 'name'"`` when a hook point's dispatch is running (error paths only)."""
    name = running_point()
    return f" on hook point {name!r}" if name is not None else ""


def _shape(x: Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


class TensorOp(BaseTensorConversion):
    """Base of this plugin's steps: ``convert(x)`` and ``revert(view, original=None)``.

    ``needs_original`` says whether ``revert`` needs the original activation (``chain``
    recomputes the intermediate originals only up to the last step that needs one).
    ``handle_conversion`` / ``handle_revert`` are kept for TransformerLens-style callers.
    """

    step_name: ClassVar[str] = ""
    needs_original: bool = False

    def __init__(self) -> None:
        super().__init__()

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        raise NotImplementedError

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        raise NotImplementedError

    def handle_conversion(self, input_value: Any, *full_context: Any) -> Any:
        return self.convert(input_value, *full_context)

    def handle_revert(self, input_value: Any, *full_context: Any) -> Any:
        return self.revert(input_value, *full_context)

    def _params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{self.step_name}({', '.join(f'{k}={v!r}' for k, v in self._params().items())})"


# ---------------------------------------------------------------------------- layout
class Reshape(TensorOp):
    """``x.reshape(shape)``; revert reshapes the edited view back to the original's shape.

    ``shape`` may hold one ``-1``. Elements keep their row-major (C) order, as in
    ``torch.reshape``.
    """

    step_name = "reshape"
    needs_original = True

    def __init__(self, shape: Sequence[int] | int) -> None:
        super().__init__()
        given: object = shape
        if isinstance(given, bool):
            raise TypeError(f"reshape: shape must be a sequence of ints (one may be -1); got {shape!r}")
        dims = (given,) if isinstance(given, numbers.Integral) else given
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Iterable):
            raise TypeError(f"reshape: shape must be a sequence of ints (one may be -1); got {shape!r}")
        checked = tuple(_int("reshape", "each dimension of shape", d, minimum=-1) for d in dims)
        if checked.count(-1) > 1:
            raise ValueError(f"reshape: shape may hold at most one -1; got {checked}")
        self.shape = checked

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        try:
            return input_value.reshape(self.shape)
        except RuntimeError:
            raise ValueError(
                f"reshape{_at()}: cannot reshape a tensor of shape {_shape(input_value)} "
                f"({input_value.numel()} elements) to {self.shape}"
            ) from None

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        original = _original("reshape", full_context, "to restore its shape")
        if input_value.numel() != original.numel():
            raise ValueError(
                f"reshape{_at()}: the edited view has shape {_shape(input_value)}, "
                "which cannot go back to the "
                f"original shape {_shape(original)}"
            )
        return input_value.reshape(original.shape)

    def _params(self) -> dict[str, Any]:
        return {"shape": self.shape}


class SplitHeads(TensorOp):
    """``[..., n_heads * d_head] -> [..., n_heads, d_head]``; revert flattens the last two axes."""

    step_name = "split_heads"
    convert_returns_view = True  # splitting one dimension is always a view

    def __init__(self, n_heads: int) -> None:
        super().__init__()
        self.n_heads = _int("split_heads", "n_heads", n_heads, minimum=1)

    # The hot path: one torch call each way; shapes are checked when torch refuses.
    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        try:
            return torch.unflatten(input_value, -1, (self.n_heads, -1))
        except (RuntimeError, IndexError):
            pass
        if input_value.ndim == 0:
            raise ValueError(
                f"split_heads{_at()}: expected a tensor [..., n_heads * d_head]; got a 0-dim tensor"
            )
        width = input_value.shape[-1]
        raise ValueError(
            f"split_heads(n_heads={self.n_heads}){_at()}: the activation's width (last dimension) is "
            f"{width}, which is not divisible by n_heads={self.n_heads}; expected a width "
            f"n_heads * d_head (a multiple of {self.n_heads}); divisors of {width}: "
            f"{', '.join(str(d) for d in range(1, min(width, 64) + 1) if width % d == 0)}"
        )

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        shape = input_value.shape
        if len(shape) >= 2 and shape[-2] == self.n_heads:
            return torch.flatten(input_value, -2)  # a view when the layout allows, else a copy
        raise ValueError(
            f"split_heads{_at()}: revert expected a view [..., n_heads={self.n_heads}, d_head]; "
            f"got shape {tuple(shape)}"
        )

    def _params(self) -> dict[str, Any]:
        return {"n_heads": self.n_heads}


class MergeHeads(TensorOp):
    """``[..., n_heads, d_head] -> [..., n_heads * d_head]``; revert splits the last axis again.

    ``n_heads`` is optional: revert takes the head layout from the original when it is
    given (always, under ``HookPoint``); ``n_heads`` also validates ``convert``'s input.
    """

    step_name = "merge_heads"

    def __init__(self, n_heads: int | None = None) -> None:
        super().__init__()
        self.n_heads = None if n_heads is None else _int("merge_heads", "n_heads", n_heads, minimum=1)
        self.needs_original = self.n_heads is None

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        if input_value.ndim < 2 or (self.n_heads is not None and input_value.shape[-2] != self.n_heads):
            expected = "n_heads" if self.n_heads is None else f"n_heads={self.n_heads}"
            raise ValueError(
                f"merge_heads{_at()}: expected a tensor [..., {expected}, d_head]; "
                f"got shape {_shape(input_value)}"
            )
        return input_value.flatten(-2)

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        last = input_value.shape[-1] if input_value.ndim else None
        if full_context:
            original = _original("merge_heads", full_context, "")
            heads, d_head = original.shape[-2:]
            if last != heads * d_head:
                raise ValueError(
                    f"merge_heads{_at()}: the edited view has shape {_shape(input_value)}; the original "
                    f"{_shape(original)} needs a last dimension of {heads * d_head}"
                )
            return torch.unflatten(input_value, -1, (heads, d_head))
        if self.n_heads is None:
            raise TypeError(
                f"merge_heads{_at()}: revert needs n_heads or the original activation; "
                "build it with n_heads=... "
                "or call revert(view, original) (HookPoint passes it)"
            )
        if last is None or last % self.n_heads:
            raise ValueError(
                f"merge_heads{_at()}: the edited view has shape {_shape(input_value)}; "
                "its last dimension must be "
                f"divisible by n_heads={self.n_heads}"
            )
        return torch.unflatten(input_value, -1, (self.n_heads, last // self.n_heads))

    def _params(self) -> dict[str, Any]:
        return {"n_heads": self.n_heads}


class Permute(TensorOp):
    """``x.permute(dims)``; revert applies the inverse permutation."""

    step_name = "permute"
    convert_returns_view = True  # a permutation is always a view

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Iterable):
            raise TypeError(f"permute: dims must be a sequence of ints; got {dims!r}")
        given = tuple(_int("permute", "each of dims", d) for d in dims)
        n = len(given)
        if n == 0:
            raise ValueError("permute: dims must not be empty")
        if any(not -n <= d < n for d in given):
            raise ValueError(
                f"permute: dims {given} must each lie in [-{n}, {n - 1}] (one entry per dimension)"
            )
        normal = tuple(d % n for d in given)
        if sorted(normal) != list(range(n)):
            raise ValueError(f"permute: dims {given} are not a permutation of 0..{n - 1}")
        self.dims = normal
        inverse = [0] * n
        for position, d in enumerate(normal):
            inverse[d] = position
        self.inverse = tuple(inverse)

    def _check(self, x: Tensor, what: str) -> None:
        if x.ndim != len(self.dims):
            raise ValueError(
                f"permute: dims {self.dims} need a {len(self.dims)}-dim tensor; {what} has shape {_shape(x)}"
            )

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        if input_value.ndim != len(self.dims):
            self._check(input_value, "the input")
        return input_value.permute(self.dims)

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        if input_value.ndim != len(self.dims):
            self._check(input_value, "the edited view")
        return input_value.permute(self.inverse)

    def _params(self) -> dict[str, Any]:
        return {"dims": self.dims}


class Transpose(TensorOp):
    """``x.transpose(dim0, dim1)``; revert swaps the same two dimensions back."""

    step_name = "transpose"
    convert_returns_view = True  # a transpose is always a view

    def __init__(self, dim0: int = -2, dim1: int = -1) -> None:
        super().__init__()
        self.dim0 = _int("transpose", "dim0", dim0)
        self.dim1 = _int("transpose", "dim1", dim1)

    def _swap(self, x: Tensor, what: str) -> Tensor:
        try:
            return x.transpose(self.dim0, self.dim1)
        except IndexError:
            raise ValueError(
                f"transpose: dims ({self.dim0}, {self.dim1}) are out of range for {what} of shape {_shape(x)}"
            ) from None

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return self._swap(input_value, "the input")

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return self._swap(input_value, "the edited view")

    def _params(self) -> dict[str, Any]:
        return {"dim0": self.dim0, "dim1": self.dim1}


class SelectChunk(TensorOp):
    """Chunk ``index`` of ``chunks`` equal parts along ``dim`` (q out of a fused qkv).

    Revert writes the edited chunk into the full original tensor with
    ``torch.slice_scatter``: out of place (the model's tensor is not modified, autograd
    sees the write), the other chunks are the original's, untouched.
    """

    step_name = "select_chunk"
    convert_returns_view = True  # narrow is always a view
    needs_original = True

    def __init__(self, index: int, chunks: int, dim: int = -1) -> None:
        super().__init__()
        self.chunks = _int("select_chunk", "chunks", chunks, minimum=1)
        index = _int("select_chunk", "index", index)
        if not -self.chunks <= index < self.chunks:
            raise ValueError(
                f"select_chunk: index {index} is out of range for chunks={self.chunks} "
                f"(expected 0..{self.chunks - 1}, or negative from the end)"
            )
        self.index = index % self.chunks
        self.dim = _int("select_chunk", "dim", dim)

    def _span(self, x: Tensor, what: str) -> tuple[int, int]:
        try:
            length = x.shape[self.dim]
        except IndexError:
            raise ValueError(
                f"select_chunk: dim {self.dim} is out of range for {what} of shape {_shape(x)}"
            ) from None
        if length % self.chunks:
            raise ValueError(
                f"select_chunk: dimension {self.dim} of {what} has size {length}, which is not divisible "
                f"by chunks={self.chunks}"
            )
        size = length // self.chunks
        return self.index * size, size

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        start, size = self._span(input_value, "the input")
        return input_value.narrow(self.dim, start, size)

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        original = _original("select_chunk", full_context, "to write the chunk back into")
        start, size = self._span(original, "the original")
        expected = list(original.shape)
        expected[self.dim] = size
        if list(input_value.shape) != expected:
            raise ValueError(
                f"select_chunk: the edited chunk has shape {_shape(input_value)}; chunk {self.index} of "
                f"{self.chunks} along dim {self.dim} of {_shape(original)} has shape {tuple(expected)}"
            )
        if input_value.dtype != original.dtype:
            input_value = input_value.to(original.dtype)  # as assigning into the tensor would
        return torch.slice_scatter(original, input_value, self.dim, start, start + size)

    def _params(self) -> dict[str, Any]:
        return {"index": self.index, "chunks": self.chunks, "dim": self.dim}


# ---------------------------------------------------------------------------- values
def _restore_dtype(result: Tensor, full_context: tuple[Any, ...]) -> Tensor:
    """Cast back to the original's dtype when type promotion changed it (ints rounded)."""
    if not full_context or not isinstance(full_context[0], Tensor):
        return result
    dtype = full_context[0].dtype
    if result.dtype == dtype:
        return result
    if result.is_floating_point() and not (dtype.is_floating_point or dtype.is_complex):
        result = result.round()
    return result.to(dtype)


class Arithmetic(TensorOp):
    """Base of ``add``/``sub``/``mul``/``div``: convert applies the operation, revert its inverse.

    ``value`` is a number or a tensor broadcastable to the activation (moved to its device;
    a float tensor is cast to a float activation's dtype, an int tensor to an int one's).
    It must be finite, and non-zero for ``mul``/``div``: those could not be reverted.
    Revert is exact whenever the arithmetic is (multiplying by a power of two, adding values
    whose sums are representable); otherwise it is off by floating-point rounding.
    When type promotion changes the dtype (an int activation plus 0.5), revert casts back to
    the original's dtype, rounding to the nearest integer for integer activations.
    """

    refuses_zero: ClassVar[bool] = False

    def __init__(self, value: float | int | Tensor) -> None:
        super().__init__()
        name = self.step_name
        given: object = value
        if isinstance(given, bool) or not isinstance(given, (numbers.Real, Tensor)):
            raise TypeError(f"{name}: value must be a real number or a Tensor; got {type(given).__name__}")
        if isinstance(value, Tensor):
            if value.is_complex():
                raise TypeError(f"{name}: value must be a real tensor; got dtype {value.dtype}")
            finite = bool(torch.isfinite(value).all()) if value.is_floating_point() else True
            zeros = int((value == 0).sum())
        else:
            finite = math.isfinite(value)
            zeros = int(value == 0)
        if not finite:
            raise ValueError(f"{name}: value must be finite to be reversible; got {value!r}")
        if self.refuses_zero and zeros:
            what = "value is zero" if not isinstance(value, Tensor) else f"value has {zeros} zero entries"
            raise ValueError(f"{name}: {what}; {name} by zero cannot be reverted")
        self.value = value
        self._integral = (
            (not value.is_floating_point())
            if isinstance(value, Tensor)
            else isinstance(given, numbers.Integral)
        )

    def _operand(self, x: Tensor) -> float | int | Tensor:
        value = self.value
        if isinstance(value, Tensor) and (value.dtype != x.dtype or value.device != x.device):
            # Same kind (float/float, int/int): the activation's dtype, so hooks see the model's.
            same_kind = value.is_floating_point() == x.is_floating_point()
            return value.to(device=x.device, dtype=x.dtype if same_kind else value.dtype)
        return value

    def _apply(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        raise NotImplementedError

    def _invert(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        raise NotImplementedError

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        out = self._apply(input_value, self._operand(input_value))
        if isinstance(self.value, Tensor) and out.shape != input_value.shape:
            raise ValueError(
                f"{self.step_name}{_at()}: a value of shape {_shape(self.value)} "
                "broadcasts the activation of shape "
                f"{_shape(input_value)} to {_shape(out)}; it must broadcast to the activation's shape"
            )
        return out

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return _restore_dtype(self._invert(input_value, self._operand(input_value)), full_context)

    def _params(self) -> dict[str, Any]:
        return {"value": self.value}


class Add(Arithmetic):
    """``x + value``; revert subtracts it."""

    step_name = "add"

    def _apply(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x + operand

    def _invert(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x - operand


class Sub(Arithmetic):
    """``x - value``; revert adds it."""

    step_name = "sub"

    def _apply(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x - operand

    def _invert(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x + operand


class Mul(Arithmetic):
    """``x * value``; revert divides (exact integer division for integer tensors and values)."""

    step_name = "mul"
    refuses_zero = True

    def _apply(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x * operand

    def _invert(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        if self._integral and not (x.is_floating_point() or x.is_complex()):
            return torch.div(x, operand, rounding_mode="trunc")
        return x / operand


class Div(Arithmetic):
    """``x / value`` (true division); revert multiplies."""

    step_name = "div"
    refuses_zero = True

    def _apply(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x / operand

    def _invert(self, x: Tensor, operand: float | int | Tensor) -> Tensor:
        return x * operand


def _dtype(step: str, dtype: object) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str):
        found = getattr(torch, dtype.removeprefix("torch."), None)
        if isinstance(found, torch.dtype):
            return found
    raise TypeError(f"{step}: dtype must be a torch.dtype or its name (e.g. 'float64'); got {dtype!r}")


class Cast(TensorOp):
    """``x.to(dtype)``; revert casts the edited view back to the original's dtype.

    The round trip is exact when ``dtype`` holds every value of the activation's dtype
    (bfloat16 or float32 to float64); a narrowing cast rounds what hooks see.
    """

    step_name = "cast"
    needs_original = True

    def __init__(self, dtype: torch.dtype | str) -> None:
        super().__init__()
        self.dtype = _dtype("cast", dtype)

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return input_value.to(self.dtype)

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        original = _original("cast", full_context, "to know which dtype to cast back to")
        return input_value.to(original.dtype)

    def _params(self) -> dict[str, Any]:
        return {"dtype": self.dtype}


# ---------------------------------------------------------------------------- composition
StepSpec = Any  # a step name, a (name, params) pair, or an object with convert() and revert()


def _build(index: int, spec: StepSpec) -> Any:
    from hookpoints.plugins import conversion_steps as CONVERSIONS

    if isinstance(spec, str):
        return CONVERSIONS.create(spec)
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        name, params = spec
        if not isinstance(params, Mapping):
            raise TypeError(f"chain: step {index} ({name!r}) needs its params as a mapping; got {params!r}")
        return CONVERSIONS.create(name, **params)
    if callable(getattr(spec, "convert", None)) and callable(getattr(spec, "revert", None)):
        return spec
    raise TypeError(
        f"chain: step {index} must be a step name, a (name, params) pair or an object with convert() "
        f"and revert(); got {spec!r}"
    )


class Chain(ChainConversion, TensorOp):
    """Several steps in order; revert undoes them in reverse order.

    Steps are given by name, as ``(name, params)`` pairs or as conversion objects. The chain
    itself is the core's :class:`~hookpoints.plugins.ChainConversion` (also behind alias
    schemes): each step is reverted against its own input, recomputed from the original
    only up to the last step that needs one; the chain is read-only when a step is, and
    returns views when every step does.
    """

    step_name = "chain"

    def __init__(self, steps: Sequence[StepSpec]) -> None:
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
            raise TypeError(
                f"chain: steps must be a list of step names, (name, params) pairs or conversion objects; got "
                f"{steps!r}"
            )
        super().__init__(tuple(_build(i, spec) for i, spec in enumerate(steps)))

    __repr__ = TensorOp.__repr__

    def _params(self) -> dict[str, Any]:
        return {"steps": list(self.steps)}


class CallablePair(TensorOp):
    """``convert_fn(x)`` for hooks; ``revert_fn(view)`` or ``revert_fn(view, original)`` back.

    ``revert_fn`` is called with the original when it accepts a second positional argument.
    Without ``revert_fn`` the step is read-only: hooks may read through it, and a hook that
    returns a value gets :class:`~hookpoints.NonInvertibleConversionError`.
    """

    step_name = "callable_pair"

    def __init__(
        self, convert_fn: Callable[[Tensor], Tensor], revert_fn: Callable[..., Tensor] | None = None
    ) -> None:
        super().__init__()
        if not callable(convert_fn):
            raise TypeError(
                "callable_pair: convert_fn must be callable as convert_fn(x); got "
                f"{type(convert_fn).__name__}"
            )
        if revert_fn is not None and not callable(revert_fn):
            raise TypeError(
                "callable_pair: revert_fn must be None (read-only) or callable as revert_fn(view) or "
                f"revert_fn(view, original); got {type(revert_fn).__name__}"
            )
        self.convert_fn = convert_fn
        self.revert_fn = revert_fn
        self.invertible = revert_fn is not None
        self._takes_original = revert_fn is not None and revert_accepts_original(revert_fn)
        self._requires_original = (
            revert_fn is not None and self._takes_original and not _callable_with_one(revert_fn)
        )
        self.needs_original = self._takes_original

    def convert(self, input_value: Any, *full_context: Any) -> Any:
        return self.convert_fn(input_value)

    def revert(self, input_value: Any, *full_context: Any) -> Any:
        if self.revert_fn is None:
            raise NonInvertibleConversionError(
                "callable_pair was built without revert_fn, so it is read-only: hooks may read through it "
                "but must not return a value"
            )
        if self._takes_original and full_context:
            return self.revert_fn(input_value, full_context[0])
        if self._requires_original:
            raise TypeError(
                "callable_pair: revert_fn takes (view, original) but no original was given; call "
                "revert(view, original) (HookPoint passes it)"
            )
        return self.revert_fn(input_value)

    def _params(self) -> dict[str, Any]:
        return {"convert_fn": self.convert_fn, "revert_fn": self.revert_fn}
