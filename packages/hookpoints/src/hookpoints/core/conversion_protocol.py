"""What a hook point needs of a conversion object, and what it reads from one.

A conversion (``HookPoint.enable_reshape``) is anything with ``convert`` and ``revert``:
hookpoints' own steps, plugins' steps and TransformerLens's conversion objects alike. The
implementations live in :mod:`hookpoints.conversions`; this module holds only what dispatch
reads once, when a conversion is assigned: whether ``revert`` takes the original activation,
and whether it is TransformerLens's identity revert (which would silently drop an edit).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TensorConversion(Protocol):
    """What ``enable_reshape`` accepts: any object with ``convert`` and ``revert``.

    TransformerLens-style duck-typed conversions satisfy it unchanged.
    """

    def convert(self, input_value: Any, *full_context: Any) -> Any: ...

    def revert(self, input_value: Any, *full_context: Any) -> Any: ...


def revert_accepts_original(method: Callable[..., Any]) -> bool:
    """Whether ``revert(view, original)`` is a valid call (TransformerLens's ``*full_context`` counts).

    Hook points pass the original activation to conversions whose ``revert`` accepts it.
    """
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def identity_revert_of(conversion: Any, _seen: frozenset[int] = frozenset()) -> str | None:
    """The class name of ``conversion``, or of a step in a chain, that keeps TransformerLens's
    default ``revert``; None when there is none.

    TransformerLens's ``BaseTensorConversion.revert`` returns the edited view unchanged, and
    its Split, Repeat, Callable, Ternary, ZerosLike and AttentionAuto conversions inherit it:
    an edit through them is silently dropped or lands in the wrong layout. Hook points treat
    such a conversion as read-only instead, except on calls where its convert returned the
    activation itself (found by name, so TransformerLens need not be imported). Chains are
    searched, TransformerLens's (``conversions``) and hookpoints' (``steps``); a chain holding
    one is read-only as a whole.
    """
    revert = getattr(type(conversion), "revert", None)
    if getattr(revert, "__qualname__", None) == "BaseTensorConversion.revert" and _from_transformer_lens(
        getattr(revert, "__module__", None)
    ):
        return type(conversion).__name__
    seen = _seen | {id(conversion)}
    for attr in ("conversions", "steps"):
        try:
            steps = getattr(conversion, attr, None)
        except Exception:  # an odd attribute is not a chain
            continue
        if isinstance(steps, (list, tuple)):
            for step in steps:
                if id(step) in seen:
                    continue  # a chain that holds itself
                found = identity_revert_of(step, seen)
                if found is not None:
                    return found
    return None


def _from_transformer_lens(module: object) -> bool:
    return isinstance(module, str) and (
        module == "transformer_lens" or module.startswith("transformer_lens.")
    )
