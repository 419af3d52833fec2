"""Render a :class:`hookpoints.plugins.HookReport` as one self-contained HTML page.

The page holds everything it shows: the styles are inline, the plots are inline SVG drawn by
matplotlib (:mod:`hookpoints_html.plots`), there is no script, font, image or stylesheet to
fetch, and a Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any
fetch should one ever creep in. It opens offline, from a file, an e-mail attachment or a CI
artifact.

Sections, each present when the report has its data: a summary with never-fired points and
NaN/Inf; activation norms per layer; clean vs patched (the relative change per point, the
first divergence marked, a table of what changed); fire counts of a recorded run; and the
table of every hook point (shape, dtype, mean, std, abs-max, RMS and L2 norms, NaN/Inf,
fired, time in hooks, hooks, conversion).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

from hookpoints.plugins import CacheComparison, HookReport, PointReport, format_bytes, format_number

from . import plots
from ._markup import SOFT, attr, css, escape, fit, inline_svg

CSS = """\
.hookpoints-report {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 14px;
  line-height: 1.45;
  color: #1f2328;
  max-width: 1100px;
}
.hookpoints-report h1 { font-size: 1.5em; margin: 0.3em 0; }
.hookpoints-report h2 {
  font-size: 1.2em;
  margin: 1.4em 0 0.4em;
  border-bottom: 1px solid #d0d7de;
}
.hookpoints-report code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.hookpoints-report nav a { margin-right: 1em; }
.hookpoints-report .hp-note { color: #59636e; font-size: 0.9em; }
.hookpoints-report .hp-alert { color: #cf222e; font-weight: 600; }
.hookpoints-report .hp-warn { color: #9a6700; font-weight: 600; }
.hookpoints-report figure { margin: 0.5em 0; overflow-x: auto; }
.hookpoints-report svg.hp-plot {
  max-width: 100%;
  height: auto;
  background: #ffffff;
}
.hookpoints-report .hp-scroll { overflow-x: auto; }
.hookpoints-report table { border-collapse: collapse; margin: 0.5em 0; }
.hookpoints-report caption { text-align: left; font-weight: 600; padding: 0.2em 0; }
.hookpoints-report th, .hookpoints-report td {
  border-bottom: 1px solid #d8dee4;
  padding: 2px 8px;
  text-align: left;
  vertical-align: top;
}
.hookpoints-report th { background: #f6f8fa; white-space: nowrap; }
.hookpoints-report td.num { text-align: right; font-variant-numeric: tabular-nums; }
.hookpoints-report td.name { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.hookpoints-report tr.hp-first td { background: #ffebe9; }
.hookpoints-report tr.hp-nan td, .hookpoints-report tr.hp-never td.fired {
  color: #cf222e;
}
.hookpoints-report tr.hp-inf td.anomaly { color: #9a6700; }
.hookpoints-report tr.hp-hooked td.name { font-weight: 600; }
"""

# The page fetches nothing: any fetch (script, style sheet, image, font, frame) is refused.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _title(report: HookReport, title: str | None) -> str:
    return title if title is not None else f"hookpoints report: {report.model}"


class _Ids:
    """Ids unique to one rendering (a notebook shows many reports in one page)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._plots = itertools.count(1)

    def section(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def plot(self) -> str:
        return f"{self.prefix}p{next(self._plots)}-"


def _table(
    caption: str, headers: list[tuple[str, str]], rows: list[tuple[str, list[tuple[str, str]]]]
) -> list[str]:
    """A table: ``headers`` as (label, css class); ``rows`` as (row class, [(cell html, class)])."""
    lines = [f"<div{attr('class', 'hp-scroll')}>", f"<table>{SOFT}<caption>{escape(caption)}</caption>"]
    lines.append("<thead><tr>")
    lines += [f" <th{attr('class', cls) if cls else ''}>{escape(label)}</th>" for label, cls in headers]
    lines += ["</tr></thead>", "<tbody>"]
    for row_class, cells in rows:
        tds = "".join(f"{SOFT}<td{attr('class', cls) if cls else ''}>{cell}</td>" for cell, cls in cells)
        lines.append(f"<tr{attr('class', row_class) if row_class else ''}>{tds}{SOFT}</tr>")
    lines += ["</tbody>", "</table>", "</div>"]
    return lines


def _num(value: float | None) -> tuple[str, str]:
    return escape(format_number(value)), "num"


def _hooks(point: PointReport) -> str:
    if not point.hooks:
        return "-"
    parts = []
    for hook in point.hooks:
        text = f"{hook.dir}:{hook.hook}" + (" (permanent)" if hook.permanent else "")
        if hook.scoped:
            text += " (scoped)"
        if hook.aliases:
            text += f" as {', '.join(hook.aliases)}"
        parts.append(f"<code>{escape(text)}</code>")
    return f",{SOFT}".join(parts)


def _points_table(report: HookReport) -> list[str]:
    with_stats = any(p.stats is not None for p in report.points)
    headers: list[tuple[str, str]] = [("hook point", ""), ("shape", "")]
    if with_stats:
        headers += [("dtype", ""), ("mean", ""), ("std", ""), ("abs-max", ""), ("RMS", ""), ("L2", "")]
        headers += [("NaN/Inf", "")]
    if report.recorded:
        headers += [("fired", ""), ("hook ms", "")]
    headers += [("hooks", ""), ("conversion", "")]
    rows = []
    for point in report.points:
        stats = point.stats
        classes = [
            "hp-hooked" if point.hooks else "",
            "hp-never" if point.never_fired else "",
            "hp-nan" if stats is not None and stats.nan else "",
            "hp-inf" if stats is not None and stats.inf else "",
        ]
        if stats is None:
            shape = "never fired" if point.never_fired else "-"
        else:
            shape = "x".join(str(s) for s in stats.shape) or "scalar"
        cells: list[tuple[str, str]] = [(escape(point.name), "name"), (escape(shape), "")]
        if with_stats:
            if stats is None:
                cells += [("-", "")] + [("-", "num")] * 5 + [("-", "num anomaly")]
            else:
                anomaly = f"{stats.nan}/{stats.inf}" if stats.nan or stats.inf else "-"
                cells += [(escape(stats.dtype), ""), _num(stats.mean), _num(stats.std), _num(stats.absmax)]
                cells += [_num(plots.rms(point)), _num(plots.l2_norm(point)), (anomaly, "num anomaly")]
        if report.recorded:
            fired = "-" if point.fired is None else str(point.fired)
            ms = "-" if point.hook_seconds is None else f"{point.hook_seconds * 1e3:.3f}"
            cells += [(fired, "num fired"), (ms, "num")]
        cells += [(_hooks(point), ""), (escape(point.conversion or "-"), "")]
        rows.append((" ".join(c for c in classes if c), cells))
    return _table(f"{report.model}: hook points", headers, rows)


def _comparison_table(comparison: CacheComparison) -> list[str]:
    changed = [d for d in comparison.diffs if d.shapes_differ or d.max_abs_diff > comparison.atol]
    if not changed:
        return []
    rows = []
    for diff in changed:
        note = "first divergence" if diff.name == comparison.first_divergence else ""
        if diff.shapes_differ:
            note = f"{note}, shape differs" if note else "shape differs"
        max_cell = ("shape differs", "num") if diff.shapes_differ else _num(diff.max_abs_diff)
        cells = [(escape(diff.name), "name"), max_cell, _num(diff.rel_norm), (escape(note), "")]
        rows.append(("hp-first" if diff.name == comparison.first_divergence else "", cells))
    headers = [("hook point", ""), ("max |diff|", ""), ("rel norm", ""), ("", "")]
    return _table("changed points, largest relative change first", headers, rows)


def _plot(svg: str | None, ids: _Ids, label: str, missing: str) -> list[str]:
    if svg is None:
        return [f"<p{attr('class', 'hp-note')}>{escape(missing)}</p>"]
    return ["<figure>", inline_svg(svg, prefix=ids.plot(), label=label), "</figure>"]


def _names(names: list[str] | tuple[str, ...]) -> str:
    return f",{SOFT}".join(f"<code>{escape(name)}</code>" for name in names)


def _summary(report: HookReport) -> Iterator[str]:
    summary = report.summary()
    facts = [f"{summary['hook_points']} hook points", f"{summary['hooked']} with hooks attached"]
    if summary["with_activation"]:
        size = format_bytes(summary["activation_bytes"])
        facts.append(f"{summary['with_activation']} with activations ({size})")
    source = [name for name, on in (("a recorded run", report.recorded), ("a cache", report.captured)) if on]
    if source:
        facts.append("from " + " and ".join(source))
    if report.comparison is not None:
        facts.append("compared clean vs patched")
    yield f"<p>{escape(', '.join(facts))}.</p>"
    if report.recorded and report.never_fired:
        label = f"Never fired ({len(report.never_fired)}):"
        yield f"<p{attr('class', 'hp-alert')}>{escape(label)}{SOFT}{_names(report.never_fired)}</p>"
    nan = [p.name for p in report.points if p.stats is not None and p.stats.nan]
    inf = [p.name for p in report.points if p.stats is not None and p.stats.inf and not p.stats.nan]
    if nan:
        yield f"<p{attr('class', 'hp-alert')}>{escape(f'NaN at ({len(nan)}):')}{SOFT}{_names(nan)}</p>"
    if inf:
        yield f"<p{attr('class', 'hp-warn')}>{escape(f'Inf at ({len(inf)}):')}{SOFT}{_names(inf)}</p>"


def _body(report: HookReport, title: str, ids: _Ids) -> list[str]:
    """The report's markup (soft breaks still in), inside ``<div class="hookpoints-report">``."""
    with_stats = any(p.stats is not None for p in report.points)
    sections: list[tuple[str, str, list[str]]] = []
    if with_stats:
        grouped = plots.layered(report)
        note = (
            "RMS norm ||x|| / sqrt(n) of each activation's finite entries (the last call's, in a "
            "recorded run), from its mean and std."
        )
        if grouped is not None:
            note += " Points outside numbered layers are in the table of hook points."
        sections.append(
            (
                "norms",
                "Activation norms per layer" if grouped is not None else "Activation norms",
                [
                    *_plot(plots.norms_plot(report), ids, "activation norms", "No finite activations."),
                    f"<p{attr('class', 'hp-note')}>{escape(note)}</p>",
                ],
            )
        )
    if report.comparison is not None:
        comparison = report.comparison
        first = comparison.first_divergence
        atol = f" (atol {comparison.atol:g})" if comparison.atol else ""
        lines = [
            (
                f"<p{attr('class', 'hp-alert')}>{escape('First divergence:')}"
                f"{SOFT}<code>{escape(first)}</code>{escape(atol)}</p>"
                if first
                else f"<p>{escape('No divergence: the patched run equals the clean one' + atol)}.</p>"
            ),
            *_plot(
                plots.comparison_plot(report, comparison),
                ids,
                "clean vs patched",
                "The two caches share no hook point.",
            ),
            *_comparison_table(comparison),
        ]
        unchanged = sum(
            1 for d in comparison.diffs if not (d.shapes_differ or d.max_abs_diff > comparison.atol)
        )
        if unchanged:
            lines.append(f"<p{attr('class', 'hp-note')}>{escape(f'{unchanged} points unchanged.')}</p>")
        for label, names in (
            ("Only in clean", comparison.only_in_clean),
            ("Only in patched", comparison.only_in_patched),
        ):
            if names:
                lines.append(f"<p>{escape(f'{label} ({len(names)}):')}{SOFT}{_names(names)}</p>")
        sections.append(("compare", "Clean vs patched", lines))
    if report.recorded:
        sections.append(
            ("fired", "Fire counts", _plot(plots.fired_plot(report), ids, "fire counts", "Nothing watched."))
        )
    table = _points_table(report) if report.points else [f"<p>{escape('(no hook points)')}</p>"]
    if not with_stats and report.points:
        hint = "No activations: pass a cache or a recorded run (hookpoints.record) to plot them."
        table.insert(0, f"<p{attr('class', 'hp-note')}>{escape(hint)}</p>")
    sections.append(("points", "Hook points", table))

    lines = [f"<div{attr('class', 'hookpoints-report')}{attr('id', ids.section('report'))}>"]
    lines.append(f"<h1>{escape(title)}</h1>")
    lines += _summary(report)
    links = [
        f"<a{attr('href', '#' + ids.section(key))}>{escape(heading)}</a>" for key, heading, _ in sections
    ]
    lines.append(f"<nav>{SOFT.join(links)}</nav>")
    for key, heading, content in sections:
        lines.append(f"<section{attr('id', ids.section(key))}>")
        lines.append(f"<h2>{escape(heading)}</h2>")
        lines += content
        lines.append("</section>")
    lines.append("</div>")
    return lines


def render_html(report: HookReport, *, title: str | None = None, width: int = 100) -> str:
    """The whole page: ``<!DOCTYPE html>`` to ``</html>``, every line within ``width`` where HTML allows.

    The same report gives the same bytes (plot ids are numbered, not random).
    """
    page_title = _title(report, title)
    lines = [
        "<!DOCTYPE html>",
        f"<html{attr('lang', 'en')}>",
        "<head>",
        f"<meta{attr('charset', 'utf-8')}>",
        f"<meta{attr('http-equiv', 'Content-Security-Policy')}{attr('content', CSP, breakable=True)}>",
        f"<meta{attr('name', 'viewport')}{attr('content', 'width=device-width, initial-scale=1')}>",
        f"<meta{attr('name', 'generator')}{attr('content', 'hookpoints-html')}>",
        f"<title>{escape(page_title)}</title>",
        "<style>",
        css(CSS + "body { margin: 1.5em; background: #ffffff; }"),
        "</style>",
        "</head>",
        "<body>",
        *_body(report, page_title, _Ids("hp-")),
        "</body>",
        "</html>",
    ]
    return fit("\n".join(lines), width) + "\n"


def repr_html(report: HookReport, *, title: str | None = None) -> str:
    """An HTML fragment for Jupyter (``_repr_html_``): the page's body with its scoped styles.

    Ids carry a random prefix, so many reports can share one notebook page.
    """
    ids = _Ids(f"hp-{uuid.uuid4().hex[:8]}-")
    body = _body(report, _title(report, title), ids)
    return fit("\n".join([body[0], "<style>", css(CSS), "</style>", *body[1:]]), 120)


def export_html(report: HookReport, path: str | Path, *, title: str | None = None, width: int = 100) -> Path:
    """Write :func:`render_html` of ``report`` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(render_html(report, title=title, width=width), encoding="utf-8")
    return path


class HtmlReporter:
    """The ``html`` reporter: :meth:`render` returns the whole page as a string.

    ``hookpoints.report(model, ..., reporter="html")`` therefore returns HTML; write it to a
    file, or call :meth:`export_html`. ``color`` is ignored (the page always has its colours).
    """

    def render(self, report: HookReport, *, width: int = 100, color: bool = False) -> str:
        return render_html(report, width=width).rstrip("\n")

    def export_html(
        self, report: HookReport, path: str | Path, *, title: str | None = None, width: int = 100
    ) -> Path:
        return export_html(report, path, title=title, width=width)

    def repr_html(self, report: HookReport) -> str:
        return repr_html(report)


__all__ = ["CSP", "CSS", "HtmlReporter", "export_html", "render_html", "repr_html"]
