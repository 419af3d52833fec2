"""hookpoints-rich: the ``rich`` reporter (default when installed) and SVG/HTML export."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public names, each imported from its module on first access: hookpoints imports this
# package when it scans its plugins, which must not load the heavy dependencies.
_EXPORTS = {
    "RichReporter": ".reporter",
    "export_html": ".reporter",
    "export_svg": ".reporter",
}

__all__ = ["RichReporter", "export_html", "export_svg"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
