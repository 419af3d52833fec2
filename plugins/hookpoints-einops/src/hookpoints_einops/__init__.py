"""hookpoints-einops: einops views for ``HookPoint.enable_reshape``.

Steps (by name): ``rearrange`` and ``repeat`` (reversible), ``reduce`` (read-only).
"""

from __future__ import annotations

from hookpoints.plugins import lazy_exports

__version__ = "0.1.0"

# Public names, each imported from its module on first access: hookpoints imports this
# package when it scans its plugins, which must not load the heavy dependencies.
_EXPORTS = {
    "EinopsStep": ".steps",
    "Rearrange": ".steps",
    "Reduce": ".steps",
    "Repeat": ".steps",
}

__all__ = ["EinopsStep", "Rearrange", "Reduce", "Repeat"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
