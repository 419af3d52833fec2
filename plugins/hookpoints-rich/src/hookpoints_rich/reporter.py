"""Render a :class:`hookpoints.plugins.HookReport` with rich.

Layout: a table of hook points (nested names indented like a tree), statistics, fired counts
and attached hooks; NaN in red, Inf in yellow, never-fired points in red, hooked points in
cyan; then the comparison table with the first divergence marked. Without activations the
inventory is drawn as a module tree. Everything fits the given width (rich wraps and folds).
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from hookpoints.plugins import CacheComparison, HookReport, PointReport, format_number


def _hooks_text(point: PointReport) -> Text:
    text = Text()
    for i, hook in enumerate(point.hooks):
        if i:
            text.append(", ")
        text.append(f"{hook.dir}:", style="dim")
        text.append(hook.hook, style="bold cyan" if hook.permanent else "cyan")
        if hook.aliases:
            text.append(f" as {', '.join(hook.aliases)}", style="dim")
    return text if point.hooks else Text("-", style="dim")


def _tail(text: Text, width: int) -> Text:
    """Keep the end of ``text`` (the informative part of a dotted name) within ``width`` cells."""
    if text.cell_len <= width:
        return text
    return Text("…").append_text(text[text.cell_len - (width - 1) :])


def _head(text: Text, width: int) -> Text:
    if text.cell_len <= width:
        return text
    return text[: width - 1].append("…")


def _points_table(report: HookReport, width: int | None = None) -> Table:
    width = width or 100
    with_stats = any(p.stats is not None for p in report.points)
    with_mean = with_stats and width >= 100  # narrow terminals: drop mean before squeezing names
    headers = [
        "hook point",
        "shape",
        *(["mean"] if with_mean else []),
        *(["absmax", "nan/inf"] if with_stats else []),
    ]
    headers += [*(["fired"] if report.recorded else []), "hooks"]
    rows: list[list[Text]] = []
    for point in report.points:
        prefix, _, leaf = point.name.rpartition(".")
        name = Text()
        name.append(f"{prefix}." if prefix else "", style="dim")
        name.append(leaf, style="bold cyan" if point.hooks else "")
        stats = point.stats
        row = [name]
        if stats is None:
            row.append(Text("never fired", style="bold red") if point.never_fired else Text("-", style="dim"))
        else:
            row.append(Text("x".join(map(str, stats.shape)) or "scalar"))
        if with_stats:
            if stats is None:
                row += [Text("-")] * (3 if with_mean else 2)
            else:
                anomaly = Text(f"{stats.nan}/{stats.inf}" if stats.nan or stats.inf else "-")
                if stats.nan:
                    anomaly.stylize("bold red")
                elif stats.inf:
                    anomaly.stylize("yellow")
                row += [
                    *([Text(format_number(stats.mean))] if with_mean else []),
                    Text(format_number(stats.absmax)),
                    anomaly,
                ]
        if report.recorded:
            row.append(Text(str(point.fired), style="bold red" if point.never_fired else ""))
        row.append(_hooks_text(point))
        rows.append(row)
    # Size the columns ourselves so nothing is cropped: fixed columns keep their content,
    # names and hooks share what is left (names first), longer cells are shortened with "…".
    natural = [max([len(h), *(r[i].cell_len for r in rows)]) for i, h in enumerate(headers)]
    overhead = 3 * len(headers) - 1  # borders and padding (no padding at the table's edges)
    free = width - overhead - sum(natural[1:-1])
    name_width = max(8, min(natural[0], free - min(natural[-1], 8)))
    hooks_width = max(5, min(natural[-1], free - name_width))
    table = Table(expand=False, pad_edge=False)
    table.add_column("hook point", no_wrap=True, width=name_width)
    for header in headers[1:-1]:
        table.add_column(header, justify="left" if header == "shape" else "right", no_wrap=True)
    table.add_column("hooks", no_wrap=True, width=hooks_width)
    for row in rows:
        table.add_row(_tail(row[0], name_width), *row[1:-1], _head(row[-1], hooks_width))
    return table


def _inventory_tree(report: HookReport) -> Tree:
    tree = Tree(Text(report.model, style="bold"))
    nodes: dict[str, Tree] = {"": tree}
    for point in report.points:
        parts = point.name.split(".")
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth])
            if prefix not in nodes:
                nodes[prefix] = nodes[".".join(parts[: depth - 1])].add(Text(parts[depth - 1], style="dim"))
        label = Text(parts[-1], style="cyan" if point.hooks else "")
        if point.hooks:
            label.append("  ")
            label.append_text(_hooks_text(point))
        nodes[".".join(parts[:-1])].add(label)
    return tree


def _comparison_table(comparison: CacheComparison, top: int = 10) -> Table:
    first = comparison.first_divergence
    table = Table(pad_edge=False)
    table.add_column("hook point", overflow="fold")
    table.add_column("max |diff|", justify="right", no_wrap=True)
    table.add_column("rel norm", justify="right", no_wrap=True)
    for diff in comparison.diffs[:top]:
        if not (diff.shapes_differ or diff.max_abs_diff > comparison.atol):
            continue
        name = Text(diff.name, style="bold magenta" if diff.name == first else "")
        table.add_row(
            name,
            "shape differs" if diff.shapes_differ else format_number(diff.max_abs_diff),
            format_number(diff.rel_norm),
        )
    return table


def _summary(report: HookReport) -> Text:
    summary = report.summary()
    text = Text(f"{summary['hook_points']} hook points, {summary['hooked']} hooked")
    if summary["with_activation"]:
        text.append(f", {summary['with_activation']} with activations")
    if report.recorded and report.never_fired:
        text.append(f"\nnever fired ({len(report.never_fired)}): ", style="bold red")
        text.append(", ".join(report.never_fired))
    if report.anomalies:
        text.append(f"\nNaN at ({len(report.anomalies)}): ", style="bold red")
        text.append(", ".join(report.anomalies))
    if report.infinite:  # counted, not alarming: masks hold -inf by design
        text.append(f"\ninfinities, no NaN (e.g. masks) at ({len(report.infinite)}): ", style="yellow")
        text.append(", ".join(report.infinite))
    return text


def renderable(report: HookReport, width: int | None = None) -> RenderableType:
    """The rich renderable for ``report`` (print it on your own Console for live colour)."""
    parts: list[RenderableType] = []
    if not report.points:
        parts.append(Text(f"{report.model}: no hook points", style="dim"))
    elif report.recorded or report.captured:
        parts.append(_title(f"{report.model}: hook points"))
        parts.append(_points_table(report, width))
    else:
        parts.append(_inventory_tree(report))
    parts.append(_summary(report))
    if report.comparison is not None:
        first = report.comparison.first_divergence
        parts.append(
            _title(
                f"clean vs patched: first divergence at {first}"
                if first
                else "clean vs patched: no divergence"
            )
        )
        parts.append(_comparison_table(report.comparison))
    return Group(*parts)


def _title(text: str) -> Text:
    """A table's title as its own line: it wraps at the console width, never at the table's.

    (A rich table title is cut to the table's width, which a narrow table makes unreadable.)
    """
    return Text(text, style="italic", overflow="fold")


def _console(width: int, color: bool, record: bool = False) -> Console:
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="truecolor" if color else None,
        record=record,
        legacy_windows=False,
        soft_wrap=False,
    )


class RichReporter:
    """The ``rich`` reporter."""

    def render(self, report: HookReport, *, width: int = 100, color: bool = False) -> str:
        console = _console(width, color)
        console.print(renderable(report, width))
        output = str(console.file.getvalue())  # type: ignore[attr-defined]
        # no trailing blanks (rich pads lines to the width): what a file or pager should get
        return "\n".join(line.rstrip() for line in output.rstrip("\n").split("\n"))

    def export_svg(
        self, report: HookReport, path: str | Path, *, width: int = 100, title: str = "hookpoints"
    ) -> Path:
        return export_svg(report, path, width=width, title=title)


def export_svg(report: HookReport, path: str | Path, *, width: int = 100, title: str = "hookpoints") -> Path:
    """Write the report as an SVG picture (rich's own export) and return the path."""
    console = _console(width, color=True, record=True)
    console.print(renderable(report, width))
    path = Path(path)
    console.save_svg(str(path), title=title)
    return path


def export_html(report: HookReport, path: str | Path, *, width: int = 100) -> Path:
    """Write the report as standalone HTML (rich's own export) and return the path."""
    console = _console(width, color=True, record=True)
    console.print(renderable(report, width))
    path = Path(path)
    console.save_html(str(path))
    return path
