"""Entry point module: contributes the ``html`` reporter (priority -30: never the default)."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import Reporter


@hookimpl
def hookpoints_reporters() -> Iterator[Reporter]:
    yield Reporter(
        "html",
        "one self-contained HTML page: tables and inline SVG plots (norms, patch diffs, fire counts)",
        "hookpoints_html.reporter:HtmlReporter",  # matplotlib is imported when a plot is drawn
        -30,
    )
