"""The core reporters (``text``, ``json``) and :func:`report`, the one call people use.

Reporters render a :class:`~hookpoints.reports.data.HookReport`; they never walk models.
``text`` needs nothing beyond the core and fits any width; ``json`` follows
``report.schema.json`` (``hookpoints.report/1``), stable for tools.
"""

from __future__ import annotations

import json
import textwrap
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from torch import Tensor

from ..core.cache import format_bytes
from ..errors import ContributionError, PluginWarning
from .data import CacheComparison, HookReport, PointReport, build_report

if TYPE_CHECKING:
    from ..core.root import HookedRootModule
    from .recording import RunRecord


def format_number(value: float | None) -> str:
    """Compact numbers for report tables (shared by reporters)."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def _shape(point: PointReport) -> str:
    if point.stats is None:
        return "never fired" if point.never_fired else "-"
    return "x".join(str(s) for s in point.stats.shape) or "scalar"


def _hooks(point: PointReport) -> str:
    return (
        ", ".join(
            f"{h.dir}:{h.hook}"
            + ("*" if h.permanent else "")
            + (f"@{'/'.join(h.aliases)}" if h.aliases else "")
            for h in point.hooks
        )
        or "-"
    )


def _table(headers: list[str], rows: list[list[str]], width: int, shrink: tuple[int, ...]) -> list[str]:
    """Columns sized to content; columns in ``shrink`` give up room in that order to fit ``width``."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for column in shrink:
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        if excess <= 0:
            break
        widths[column] = max(min(len(headers[column]), 12), widths[column] - excess)

    def fit(cell: str, w: int) -> str:
        return cell if len(cell) <= w else cell[: max(w - 1, 0)] + "…"

    def line(cells: list[str]) -> str:
        return "  ".join(fit(c, widths[i]).ljust(widths[i]) for i, c in enumerate(cells)).rstrip()[:width]

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _wrap_parts(parts: list[str], width: int, prefix: str = "") -> list[str]:
    """Join ``parts`` with ", " into lines of at most ``width``, breaking only between parts."""
    lines: list[str] = []
    current = prefix
    for i, part in enumerate(parts):
        piece = part + ("," if i < len(parts) - 1 else "")
        candidate = f"{current} {piece}" if current and not current.endswith(": ") else current + piece
        if len(candidate) <= width or current in ("", prefix):
            current = candidate
        else:
            lines.append(current)
            current = "  " + piece
    lines.append(current)
    return [chunk for line in lines for chunk in (textwrap.wrap(line, width, subsequent_indent="  ") or [""])]


def render_text(report: HookReport, width: int = 100) -> str:
    """Plain text: a table of points, then never-fired points, anomalies and the comparison."""
    headers = ["hook point", "shape"]
    with_stats = any(p.stats is not None for p in report.points)
    if with_stats:
        headers += ["dtype", "mean", "std", "absmax", "nan/inf"]
    if report.recorded:
        headers += ["fired", "hook ms"]
    headers.append("hooks (* permanent)")
    rows = []
    for p in report.points:
        row = [p.name, _shape(p)]
        if with_stats:
            s = p.stats
            row += (
                [
                    s.dtype,
                    format_number(s.mean),
                    format_number(s.std),
                    format_number(s.absmax),
                    f"{s.nan}/{s.inf}" if s.nan or s.inf else "-",
                ]
                if s is not None
                else ["-"] * 5
            )
        if report.recorded:
            row += [str(p.fired) if p.fired is not None else "-", f"{(p.hook_seconds or 0) * 1e3:.3f}"]
        row.append(_hooks(p))
        rows.append(row)
    # Narrow terminals: drop the least useful columns before the names get cut.
    for optional in ("dtype", "std", "hook ms", "mean", "fired"):
        fixed = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers[:-1])]
        if sum(fixed) + 2 * len(fixed) + min(len(headers[-1]), 12) <= width:
            break
        if optional in headers:
            index = headers.index(optional)
            del headers[index]
            for row in rows:
                del row[index]
    lines = (
        _table(headers, rows, width, shrink=(len(headers) - 1, 0)) if report.points else ["(no hook points)"]
    )
    summary = report.summary()
    parts = [f"{summary['hook_points']} hook points", f"{summary['hooked']} with hooks attached"]
    if with_stats:
        parts.append(
            f"{summary['with_activation']} with activations ({format_bytes(summary['activation_bytes'])})"
        )
    lines += _wrap_parts(parts, width)
    if report.recorded and report.never_fired:
        lines += _wrap_parts(report.never_fired, width, f"never fired ({len(report.never_fired)}): ")
    if report.anomalies:
        lines += _wrap_parts(report.anomalies, width, f"NaN at ({len(report.anomalies)}): ")
    if report.infinite:  # counted, not an alarm: masks hold -inf by design
        lines += _wrap_parts(
            report.infinite, width, f"infinities, no NaN (e.g. masks) at ({len(report.infinite)}): "
        )
    if report.comparison is not None:
        lines += ["", *_comparison_lines(report.comparison, width)]
    return "\n".join(lines)


def _comparison_lines(comparison: CacheComparison, width: int, top: int = 10) -> list[str]:
    first = comparison.first_divergence
    lines = [
        (f"clean vs patched: first divergence at {first}" if first else "clean vs patched: no divergence")
        + (f" (atol {comparison.atol:g})" if comparison.atol else "")
    ]
    rows = [
        [
            d.name,
            "shape differs" if d.shapes_differ else format_number(d.max_abs_diff),
            format_number(d.rel_norm),
        ]
        for d in comparison.diffs[:top]
        if d.max_abs_diff > comparison.atol or d.shapes_differ
    ]
    if rows:
        lines += _table(["hook point", "max |diff|", "rel norm"], rows, width, shrink=(0,))
    for label, names in (
        ("only in clean", comparison.only_in_clean),
        ("only in patched", comparison.only_in_patched),
    ):
        if names:
            lines += _wrap_parts(list(names), width, f"{label}: ")
    return [wrapped for line in lines for wrapped in (textwrap.wrap(line, width) or [""])]


class TextReporter:
    """The ``text`` reporter."""

    def render(self, report: HookReport, *, width: int = 100, color: bool = False) -> str:
        return render_text(report, width)


class JsonReporter:
    """The ``json`` reporter: :meth:`HookReport.to_dict` as indented JSON (``report.schema.json``)."""

    def render(self, report: HookReport, *, width: int = 100, color: bool = False) -> str:
        return json.dumps(report.to_dict(), indent=1)


def format_hook_report(
    model: HookedRootModule, cache: Mapping[str, Tensor] | None = None, width: int = 100
) -> str:
    """The plain-text report of ``model`` (and ``cache``): :func:`report` with the text reporter."""
    return render_text(build_report(model, cache), width)


def report(
    model: HookedRootModule,
    cache: Mapping[str, Tensor] | None = None,
    reporter: str | None = None,
    *,
    run: RunRecord | None = None,
    compare: CacheComparison | tuple[Mapping[str, Tensor], Mapping[str, Tensor]] | None = None,
    width: int | None = None,
    color: bool = False,
) -> str:
    """Render a hook report of ``model`` with the named reporter (default: highest priority installed).

    Args:
        cache: Activations to summarise (e.g. from ``run_with_cache``).
        run: A :class:`~hookpoints.recording.RunRecord` from ``hookpoints.record(model)``:
            adds times fired, time in hooks, and calls out points that never fired.
        compare: ``(clean_cache, patched_cache)`` or a ready :class:`CacheComparison`.
        width: Line width (default: the terminal's, at most 160).
        color: Let reporters that support it emit ANSI colours.
    """
    from ..registries import REPORTERS

    if width is None:
        import shutil

        width = min(shutil.get_terminal_size((100, 24)).columns, 160)
    data = build_report(model, cache, run=run, compare=compare)
    if reporter is not None:
        return REPORTERS.render(reporter, data, width=width, color=color)
    # The default is a convenience: a default that fails gives way to the next by priority.
    failures: list[ContributionError] = []
    for candidate in REPORTERS.by_priority():
        try:
            text = REPORTERS.render(candidate.name, data, width=width, color=color)
        except ContributionError as exc:
            failures.append(exc)
            continue
        for failure in failures:
            warnings.warn(
                f"{failure}; report() used the {REPORTERS.describe(candidate.name)} instead "
                f"(pass reporter={failure.name!r} to see the error)",
                PluginWarning,
                stacklevel=2,
            )
        return text
    if failures:
        raise failures[0]
    REPORTERS.default()  # raises: no reporter is installed
    raise AssertionError("unreachable")  # pragma: no cover
