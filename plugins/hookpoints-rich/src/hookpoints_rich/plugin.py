"""Entry point module: contributes the ``rich`` reporter (priority 10, above ``text``)."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import Reporter


@hookimpl
def hookpoints_reporters() -> Iterator[Reporter]:
    from .reporter import RichReporter

    yield Reporter(
        "rich", "rich console tables and trees, colour for anomalies, SVG/HTML export", RichReporter, 10
    )
