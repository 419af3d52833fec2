"""hookpoints-html: the ``html`` reporter, one self-contained page with tables and SVG plots."""

from __future__ import annotations

from hookpoints.plugins import lazy_exports

__version__ = "0.1.0"

# Public names, each imported from its module on first access: hookpoints imports this
# package when it scans its plugins, which must not load matplotlib.
_EXPORTS = {
    "HtmlReporter": ".reporter",
    "export_html": ".reporter",
    "render_html": ".reporter",
    "repr_html": ".reporter",
}

__all__ = ["HtmlReporter", "export_html", "render_html", "repr_html"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
