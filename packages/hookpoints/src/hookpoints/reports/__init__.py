"""Hook reports: what is hooked, what each activation held, where a patched run diverges.

``data`` collects a report as plain data (reporters never walk models), ``recording``
records a run (``hookpoints.record``), ``render`` holds the core reporters (``text``,
``json``) and :func:`report`. Reporters by name come from plugins; this package is their
registry's front door (``hookpoints.reports.create("text")``, also ``hookpoints.reporters``).
"""

from __future__ import annotations

from ..registries import REPORTERS
from .data import build_report, compare_caches
from .recording import record
from .render import format_hook_report, format_number, report

registry = REPORTERS

available = registry.available
get = registry.get
create = registry.create
default = registry.default
source = registry.source

__all__ = [
    "available",
    "build_report",
    "compare_caches",
    "create",
    "default",
    "format_hook_report",
    "format_number",
    "get",
    "record",
    "registry",
    "report",
    "source",
]
