"""Typing helpers shared by the public API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .hook_point import HookPoint


@runtime_checkable
class HookFunction(Protocol):
    """A hook: ``fn(tensor, *, hook)`` returning ``None`` (keep) or a replacement."""

    def __call__(self, tensor: Any, *, hook: HookPoint) -> Any: ...
