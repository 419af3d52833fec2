"""Entry point module: contributes the ``rich`` reporter (priority 10, above ``text``)."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import Reporter


@hookimpl
def hookpoints_reporters() -> Iterator[Reporter]:
    yield Reporter(
        "rich",
        "rich console tables and trees, colour for anomalies, SVG/HTML export",
        "hookpoints_rich.reporter:RichReporter",  # rich is imported when the reporter is built
        10,
    )
