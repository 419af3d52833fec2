"""Reversible tensor conversions used by :meth:`HookPoint.enable_reshape`.

A conversion gives hooks a different view of an activation (split heads, a chunk of a fused
projection, another dtype). When a hook returns an edited view, the conversion's ``revert``
writes the edit back into the model's layout. TransformerLens silently made ``revert`` the
identity; here a conversion that cannot revert says so, and an edit through it is an error
instead of a silent no-op or a silently wrong layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import Tensor

from ..core.conversion_protocol import TensorConversion, identity_revert_of, revert_accepts_original
from ..errors import NonInvertibleConversionError

__all__ = [
    "BaseTensorConversion",
    "ChainConversion",
    "IdentityConversion",
    "TensorConversion",
    "identity_revert_of",
    "revert_accepts_original",
]


class BaseTensorConversion:
    """Base class for conversions (TransformerLens-compatible constructor and methods).

    Subclasses implement :meth:`handle_conversion` and, when the view can be written back,
    :meth:`handle_revert` (and leave ``invertible = True``). Optional ``input_filter`` /
    ``output_filter`` run around the conversion; ``revert`` runs their inverses
    (``output_filter_inverse`` first, ``input_filter_inverse`` last), so the two directions
    stay symmetric. A filter without an inverse makes the conversion read-only.
    """

    invertible: bool = True
    #: True when ``convert`` always returns a view sharing its input's memory (a split,
    #: permutation or narrowing). A hook that edits that view in place and returns it then
    #: needs no ``revert``: the edit is already in the activation, so the hook point skips it.
    #: Leave it False when ``convert`` may copy (``reshape``, ``flatten``). Hook points ignore
    #: it while ``input_filter`` or ``output_filter`` is set: a filter may copy.
    convert_returns_view: bool = False

    def __init__(
        self,
        input_filter: Callable[[Any], Any] | None = None,
        output_filter: Callable[[Any], Any] | None = None,
        input_filter_inverse: Callable[[Any], Any] | None = None,
        output_filter_inverse: Callable[[Any], Any] | None = None,
    ) -> None:
        self.input_filter = input_filter
        self.output_filter = output_filter
        self.input_filter_inverse = input_filter_inverse
        self.output_filter_inverse = output_filter_inverse

    def convert(self, input_value: Any, *full_context: Any) -> Any:
        if self.input_filter is not None:
            input_value = self.input_filter(input_value)
        output = self.handle_conversion(input_value, *full_context)
        return self.output_filter(output) if self.output_filter is not None else output

    def handle_conversion(self, input_value: Any, *full_context: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement handle_conversion(input_value)")

    def revert(self, input_value: Any, *full_context: Any) -> Any:
        """Map an edited view back to the model's layout.

        ``full_context`` holds the original activation when called by a hook point, so a
        partial view can be written back into the full tensor.

        Raises :class:`NonInvertibleConversionError` unless the subclass implements
        :meth:`handle_revert` (and every filter has its inverse): a silent identity would
        drop or misplace the hook's edit.
        """
        missing = [
            name
            for name, forward, inverse in (
                ("input_filter", self.input_filter, self.input_filter_inverse),
                ("output_filter", self.output_filter, self.output_filter_inverse),
            )
            if forward is not None and inverse is None
        ]
        if not self.invertible or type(self).handle_revert is BaseTensorConversion.handle_revert or missing:
            reason = f"its {missing[0]} has no inverse" if missing else "it cannot revert its view"
            raise NonInvertibleConversionError(
                f"{type(self).__name__} is read-only ({reason}): a hook may read through it but must not "
                "return a value"
            )
        if self.output_filter_inverse is not None:
            input_value = self.output_filter_inverse(input_value)
        reverted = self.handle_revert(input_value, *full_context)
        return self.input_filter_inverse(reverted) if self.input_filter_inverse is not None else reverted

    def handle_revert(self, input_value: Any, *full_context: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ChainConversion(BaseTensorConversion):
    """Several conversions in order; revert undoes them in reverse order.

    Each step's own ``convert`` and ``revert`` run (filters included, in both directions).
    On revert, step ``i`` gets its own original, the input it converted: the chain recomputes
    these intermediates from the original passed to ``revert`` (no per-call state), and only
    up to the last step that needs one. What each step needs is read once, here, not per call.
    The chain is invertible when every step is; otherwise hooks may read through it but not
    return a value. It returns views when every step does.
    """

    def __init__(self, steps: Iterable[Any]) -> None:
        super().__init__()
        self.steps = tuple(steps)
        if not self.steps:
            raise ValueError("chain: steps must hold at least one step")
        self._takes_original = tuple(revert_accepts_original(step.revert) for step in self.steps)
        needs = [
            bool(getattr(step, "needs_original", takes))
            for step, takes in zip(self.steps, self._takes_original, strict=True)
        ]
        self._last_needing = max((i for i, need in enumerate(needs) if need), default=-1)
        self.needs_original = self._last_needing >= 0
        self._read_only = [i for i, step in enumerate(self.steps) if not getattr(step, "invertible", True)]
        self.invertible = not self._read_only
        self.convert_returns_view = self.invertible and all(
            getattr(step, "convert_returns_view", False) is True for step in self.steps
        )

    def convert(self, input_value: Any, *full_context: Any) -> Any:
        for step in self.steps:
            input_value = step.convert(input_value)
        return input_value

    def revert(self, input_value: Any, *full_context: Any) -> Any:
        if self._read_only:
            i = self._read_only[0]
            raise NonInvertibleConversionError(
                f"chain: step {i} ({self.steps[i]!r}) is read-only, so the chain cannot write an edited "
                "view back"
            )
        originals: list[Any] = []
        if full_context and self._last_needing >= 0:
            x = full_context[0]
            for i in range(self._last_needing + 1):
                originals.append(x)
                if i < self._last_needing:
                    x = self.steps[i].convert(x)
        for i in range(len(self.steps) - 1, -1, -1):
            step = self.steps[i]
            if i < len(originals) and self._takes_original[i]:
                input_value = step.revert(input_value, originals[i])
            else:
                input_value = step.revert(input_value)
        return input_value

    def handle_conversion(self, input_value: Any, *full_context: Any) -> Any:
        return self.convert(input_value, *full_context)

    def handle_revert(self, input_value: Any, *full_context: Any) -> Any:
        return self.revert(input_value, *full_context)

    def __repr__(self) -> str:
        return " -> ".join(repr(s) for s in self.steps)


class IdentityConversion(BaseTensorConversion):
    """The trivial conversion: the hook sees the activation itself."""

    def handle_conversion(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return input_value

    def handle_revert(self, input_value: Tensor, *full_context: Any) -> Tensor:
        return input_value
