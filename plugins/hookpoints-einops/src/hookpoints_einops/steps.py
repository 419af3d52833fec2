"""einops conversion steps: ``rearrange`` and ``repeat`` (reversible), ``reduce`` (read-only).

No step keeps per-call state: revert works out the inverse pattern and the axis lengths it
needs from the edited view and the original activation passed to ``revert(view, original)``
(``HookPoint`` passes it). The inverse for a pair of shapes is cached, as einops caches its
recipes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import einops
import torch
from torch import Tensor

from hookpoints import BaseTensorConversion, NonInvertibleConversionError

from .patterns import (
    Group,
    ellipsis_length,
    expand,
    fresh_prefix,
    has_ellipsis,
    merges_axes,
    names,
    parse_side,
    solve,
)

__all__ = ["EinopsStep", "Rearrange", "Reduce", "Repeat"]

REDUCTIONS = ("min", "max", "sum", "mean", "prod", "any", "all")
_CACHE_SIZE = 64


def _original(step: str, full_context: tuple[Any, ...]) -> Tensor | None:
    if not full_context:
        return None
    original = full_context[0]
    if not isinstance(original, Tensor):
        raise TypeError(
            f"{step}: the original passed to revert must be a Tensor; got {type(original).__name__}"
        )
    return original


class EinopsStep(BaseTensorConversion):
    """Shared parsing and validation: ``pattern`` (``"left -> right"``) and axis lengths."""

    step_name: ClassVar[str] = ""
    needs_original: bool = False

    def __init__(self, pattern: str, **axes_lengths: int) -> None:
        super().__init__()
        step = self.step_name
        if not isinstance(pattern, str) or pattern.count("->") != 1:
            raise ValueError(
                f"{step}: pattern must be a string 'left -> right' (e.g. 'b p (h d) -> b p h d'); "
                f"got {pattern!r}"
            )
        left, right = pattern.split("->")
        self.pattern = pattern
        self.left = parse_side(step, pattern, left)
        self.right = parse_side(step, pattern, right)
        everything = names(self.left) | names(self.right)
        lengths: dict[str, object] = dict(axes_lengths)
        for axis, length in lengths.items():
            if axis not in everything:
                raise ValueError(
                    f"{step}: axis length given for {axis!r}, which is not in pattern {pattern!r} "
                    f"(its axes: {', '.join(sorted(everything))})"
                )
            if isinstance(length, bool) or not isinstance(length, numbers.Integral) or int(length) < 1:
                raise ValueError(f"{step}: axis length {axis}={length!r} must be a positive int")
        self.axes_lengths = {axis: int(length) for axis, length in axes_lengths.items()}
        self._ellipsis_prefix = fresh_prefix(everything, "ell")
        self._anonymous_prefix = fresh_prefix(everything, "anon")
        self._inverses: dict[tuple[tuple[int, ...], tuple[int, ...] | None], tuple[str, dict[str, int]]] = {}

    def handle_conversion(self, input_value: Any, *full_context: Any) -> Any:
        return self.convert(input_value, *full_context)

    def _needs_original(self) -> bool:
        """Whether revert needs the original: some composed axis of the view can't be split
        with the given lengths and the lengths the view's own dimensions determine."""
        if ellipsis_length(self.right, 0) is None:  # '...' inside parentheses
            return True
        known = set(self.axes_lengths) | {g.tokens[0] for g in self.right if not g.composite}
        pending = [set(names([g])) for g in self.right if g.composite]
        progress = True
        while progress:
            progress = False
            for unknown in pending:
                unknown -= known
                if len(unknown) == 1:
                    known |= unknown
                    progress = True
        return any(pending)

    def _ellipsis_names(self, view: Tensor, original: Tensor | None) -> list[str]:
        count = ellipsis_length(self.left, original.ndim) if original is not None else None
        if count is None:
            count = ellipsis_length(self.right, view.ndim)
        if count is None:
            raise TypeError(
                f"{self.step_name}: revert needs the original activation to know how many axes '...' stands "
                f"for in {self.pattern!r}; call revert(view, original) (HookPoint passes it)"
            )
        if count < 0:
            raise ValueError(
                f"{self.step_name}: pattern {self.pattern!r} has more axes than the tensor of shape "
                f"{tuple((original if original is not None else view).shape)}"
            )
        return [f"{self._ellipsis_prefix}{i}" for i in range(count)]

    def _sides(
        self, view: Tensor, original: Tensor | None
    ) -> tuple[list[Group], list[Group], dict[str, int]]:
        """Both sides with ``...`` expanded and anonymous axes (``3``) on the right named."""
        ellipsis_names = self._ellipsis_names(view, original)
        left = expand(self.left, ellipsis_names)
        right: list[Group] = []
        anonymous: dict[str, int] = {}
        for g in expand(self.right, ellipsis_names):
            tokens = []
            for t in g.tokens:
                if t.isdigit() and t != "1":
                    name = f"{self._anonymous_prefix}{len(anonymous)}"
                    anonymous[name] = int(t)
                    t = name
                tokens.append(t)
            right.append(Group(tuple(tokens), g.composite))
        if len(right) != view.ndim:
            raise ValueError(
                f"{self.step_name}: the edited view has shape {tuple(view.shape)}; pattern {self.pattern!r} "
                f"gives {len(right)} dimensions"
            )
        if original is not None and len(left) != original.ndim:
            raise ValueError(
                f"{self.step_name}: the original has shape {tuple(original.shape)}; pattern {self.pattern!r} "
                f"expects {len(left)} dimensions"
            )
        return left, right, anonymous

    def _lengths_for(
        self,
        right: list[Group],
        left: list[Group],
        view: Tensor,
        original: Tensor | None,
        known: dict[str, int],
    ) -> dict[str, int]:
        sides: list[tuple[list[Group], tuple[int, ...]]] = [(right, tuple(view.shape))]
        if original is not None:
            sides.append((left, tuple(original.shape)))
        lengths = solve(sides, known)
        needed: dict[str, int] = {}
        missing: list[str] = []
        for g in right:
            if g.composite:
                unknown = [t for t in g.tokens if not t.isdigit() and t not in lengths]
                if len(unknown) > 1:
                    missing += unknown
                needed.update({t: lengths[t] for t in g.tokens if t in lengths})
        if missing:
            raise TypeError(
                f"{self.step_name}: cannot infer the lengths of axes {', '.join(missing)} to revert "
                f"{self.pattern!r}; pass them as parameters or call revert(view, original)"
            )
        return needed

    def _cached(
        self, view: Tensor, original: Tensor | None, build: Callable[[], tuple[str, dict[str, int]]]
    ) -> tuple[str, dict[str, int]]:
        key = (tuple(view.shape), None if original is None else tuple(original.shape))
        found = self._inverses.get(key)
        if found is None:
            found = build()
            if len(self._inverses) >= _CACHE_SIZE:
                self._inverses.clear()
            self._inverses[key] = found
        return found

    def __repr__(self) -> str:
        lengths = "".join(f", {k}={v}" for k, v in self.axes_lengths.items())
        return f"{self.step_name}({self.pattern!r}{lengths})"


class Rearrange(EinopsStep):
    """``einops.rearrange(x, pattern, **axes_lengths)``; revert rearranges back.

    Revert uses the inverse pattern (``right -> left``) with every axis length it needs
    inferred from the edited view, the original and the given lengths, so
    ``"b p (h d) -> b p h d"`` with ``h=4`` reverts without ``d``, and
    ``"b p h d -> b p (h d)"`` reverts with no lengths at all.
    """

    step_name = "rearrange"

    def __init__(self, pattern: str, **axes_lengths: int) -> None:
        super().__init__(pattern, **axes_lengths)
        only = names(self.left) ^ names(self.right)
        if only:
            raise ValueError(
                f"rearrange: axes {', '.join(sorted(only))} appear on one side of {pattern!r} only; "
                "rearrange keeps every axis (use repeat to add axes, reduce to remove them)"
            )
        if has_ellipsis(self.left) != has_ellipsis(self.right):
            raise ValueError(f"rearrange: '...' must appear on both sides of {pattern!r} or on neither")
        self.needs_original = self._needs_original()
        # Splitting and permuting axes is always a view in torch; only merging may copy.
        self.convert_returns_view = not any(merges_axes(g) for g in self.right)

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return einops.rearrange(input_value, self.pattern, **self.axes_lengths)

    def _inverse(self, view: Tensor, original: Tensor | None) -> tuple[str, dict[str, int]]:
        left, right, _ = self._sides(view, original)
        lengths = self._lengths_for(right, left, view, original, dict(self.axes_lengths))
        pattern = f"{' '.join(g.render() for g in right)} -> {' '.join(g.render() for g in left)}"
        return pattern, lengths

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        original = _original("rearrange", full_context)
        pattern, lengths = self._cached(input_value, original, lambda: self._inverse(input_value, original))
        return einops.rearrange(input_value, pattern, **lengths)

    def handle_revert(self, input_value: Any, *full_context: Any) -> Any:
        return self.revert(input_value, *full_context)


class Repeat(EinopsStep):
    """``einops.repeat(x, pattern, **axes_lengths)``; revert takes the mean over the copies.

    Why the mean: ``repeat`` is linear and injective, and the mean over the copies is its
    pseudo-inverse, the activation whose repetition is closest (least squares) to the
    edited view. Every copy's edit counts, with equal weight: editing all copies alike
    writes exactly that edit back; editing one copy of ``r`` moves the activation by
    ``1/r`` of the edit. (Taking the first copy would drop edits made to the others
    without a word.) The mean is computed as ``first + mean(copies - first)``, so identical
    copies come back bit-exact (a plain float mean of three equal values need not be).
    Integer tensors use the floor of that mean.
    """

    step_name = "repeat"

    def __init__(self, pattern: str, **axes_lengths: int) -> None:
        super().__init__(pattern, **axes_lengths)
        lost = names(self.left) - names(self.right)
        if lost:
            raise ValueError(
                f"repeat: axes {', '.join(sorted(lost))} of the input are missing from the output of "
                f"{pattern!r}; repeat keeps every input axis (use reduce to remove them)"
            )
        new = names(self.right) - names(self.left)
        unsized = sorted(new - set(self.axes_lengths))
        if unsized:
            raise ValueError(
                f"repeat: new axes {', '.join(unsized)} of {pattern!r} need lengths, e.g. {unsized[0]}=3"
            )
        if has_ellipsis(self.left) != has_ellipsis(self.right):
            raise ValueError(f"repeat: '...' must appear on both sides of {pattern!r} or on neither")
        self.new_axes = tuple(t for g in self.right for t in g.tokens if t in new)
        self.needs_original = self._needs_original()

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return einops.repeat(input_value, self.pattern, **self.axes_lengths)

    def _inverse(self, view: Tensor, original: Tensor | None) -> tuple[str, dict[str, int]]:
        left, right, anonymous = self._sides(view, original)
        known = {**self.axes_lengths, **anonymous}
        lengths = self._lengths_for(right, left, view, original, known)
        copies = [t for g in right for t in g.tokens if t in set(self.new_axes) | set(anonymous)]
        stacked = f"({' '.join(copies)})" if copies else "()"
        pattern = f"{' '.join(g.render() for g in right)} -> {' '.join(g.render() for g in left)} {stacked}"
        return pattern, lengths

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        original = _original("repeat", full_context)
        pattern, lengths = self._cached(input_value, original, lambda: self._inverse(input_value, original))
        stacked = einops.rearrange(input_value, pattern, **lengths)  # [*original shape, copies]
        first = stacked[..., 0]
        if stacked.shape[-1] == 1:
            return first
        deviation = stacked - first.unsqueeze(-1)
        if deviation.is_floating_point() or deviation.is_complex():
            return first + deviation.mean(-1)
        return (first + torch.div(deviation.sum(-1), stacked.shape[-1], rounding_mode="floor")).to(
            first.dtype
        )

    def handle_revert(self, input_value: Any, *full_context: Any) -> Any:
        return self.revert(input_value, *full_context)


class Reduce(EinopsStep):
    """``einops.reduce(x, pattern, reduction, **axes_lengths)``: read-only.

    A reduction forgets what it reduced over, so there is no edit to write back: hooks may
    read through it; a hook that returns a value gets
    :class:`~hookpoints.NonInvertibleConversionError`.
    """

    step_name = "reduce"
    invertible = False

    def __init__(
        self, pattern: str, reduction: str | Callable[..., Any] = "mean", **axes_lengths: int
    ) -> None:
        super().__init__(pattern, **axes_lengths)
        if not (callable(reduction) or reduction in REDUCTIONS):
            raise ValueError(
                f"reduce: reduction must be one of {', '.join(REDUCTIONS)} or a callable; got {reduction!r}"
            )
        added = names(self.right) - names(self.left)
        if added:
            raise ValueError(
                f"reduce: axes {', '.join(sorted(added))} appear only in the output of {pattern!r}; "
                "reduce cannot add axes (use repeat)"
            )
        self.reduction = reduction

    def convert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return einops.reduce(input_value, self.pattern, self.reduction, **self.axes_lengths)

    def revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        raise NonInvertibleConversionError(
            f"reduce({self.pattern!r}, {self.reduction!r}) is read-only: the reduced values cannot be spread "
            "back, so hooks may read through it but must not return a value"
        )

    def __repr__(self) -> str:
        lengths = "".join(f", {k}={v}" for k, v in self.axes_lengths.items())
        return f"reduce({self.pattern!r}, {self.reduction!r}{lengths})"
