"""What ``transformer_lens.HookedRootModule`` is once ``hookpoints.interop.transformer_lens.install()`` ran.

``Slice``, ``SliceInput`` and ``warn_if_mps`` are TransformerLens's own, read on first use.
"""

from __future__ import annotations

import warnings
from typing import Any

from hookpoints.core.root import HookedRootModule as _HookpointsRoot
from hookpoints.interop.tl_hook_points import (
    DeviceType,
    HookFunction,
    HookIntrospectionMixin,
    HookPoint,
    NamesFilter,
)

__all__ = [
    "DeviceType",
    "HookFunction",
    "HookIntrospectionMixin",
    "HookPoint",
    "HookedRootModule",
    "NamesFilter",
]


def __getattr__(name: str) -> Any:
    if name in ("Slice", "SliceInput", "warn_if_mps"):  # TransformerLens's own, on first use
        from transformer_lens import utilities

        return getattr(utilities, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HookedRootModule(_HookpointsRoot):
    """hookpoints' ``HookedRootModule`` with TransformerLens 3.9's deprecation of direct use."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if type(self) is HookedRootModule:
            warnings.warn(
                "HookedRootModule is deprecated and will be removed in 4.0. Use "
                "TransformerBridge.boot_transformers(...) instead.",
                DeprecationWarning,
                stacklevel=2,
            )
