"""TransformerLens's module path: ``from hookpoints.hook_points import HookPoint``.

``HookedRootModule`` lives in :mod:`hookpoints.core.root` (import it from ``hookpoints``);
importing it from here still works for one release, with a DeprecationWarning (as
TransformerLens 3 does).
"""

from __future__ import annotations

import warnings
from typing import Any

from .core.handles import LensHandle
from .core.hook_point import AliasedHookPoint, HookPoint
from .core.introspection import HookIntrospectionMixin
from .core.names import NamesFilter
from .core.protocols import HookFunction

__all__ = [
    "AliasedHookPoint",
    "HookFunction",
    "HookIntrospectionMixin",
    "HookPoint",
    "LensHandle",
    "NamesFilter",
]


def __getattr__(name: str) -> Any:
    if name == "HookedRootModule":
        from .core.root import HookedRootModule

        warnings.warn(
            "importing HookedRootModule from hookpoints.hook_points is deprecated; import it from hookpoints",
            DeprecationWarning,
            stacklevel=2,
        )
        return HookedRootModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
