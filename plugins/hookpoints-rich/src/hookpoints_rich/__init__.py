"""hookpoints-rich: the ``rich`` reporter (default when installed) and SVG/HTML export."""

from __future__ import annotations

from hookpoints.plugins import lazy_exports

__version__ = "0.1.0"

# Public names, each imported from its module on first access: hookpoints imports this
# package when it scans its plugins, which must not load the heavy dependencies.
_EXPORTS = {
    "RichReporter": ".reporter",
    "export_html": ".reporter",
    "export_svg": ".reporter",
}

__all__ = ["RichReporter", "export_html", "export_svg"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
