"""hookpoints-rich: the ``rich`` reporter (default when installed) and SVG/HTML export."""

from .reporter import RichReporter, export_html, export_svg

__all__ = ["RichReporter", "export_html", "export_svg"]
__version__ = "0.1.0"
