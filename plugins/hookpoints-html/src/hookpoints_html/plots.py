"""The report's plots, drawn with matplotlib as static SVG (no JavaScript, no pyplot).

Each function takes report data and returns an SVG document (a string), or ``None`` when
the report has nothing to plot. matplotlib is imported inside :func:`_svg_of`, the first
time a plot is drawn; figures are :class:`matplotlib.figure.Figure` objects rendered by the
SVG backend, so no GUI backend and no global pyplot state are touched.

Text stays text (``svg.fonttype = "none"``): hook-point names in a plot can be searched and
copied, and the page needs no embedded glyphs; the browser draws them in a local sans-serif
font, so the layout, measured with matplotlib's bundled DejaVu Sans, may differ by a few
pixels where that font is missing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hookpoints.plugins import CacheComparison, HookReport, PointReport, format_number

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIG_WIDTH = 8.0  # inches (768 CSS pixels at 96 dpi)
ROW_HEIGHT = 0.22  # inches per bar in the per-point bar charts
ACCENT = "#1f6feb"
ALERT = "#cf222e"
MUTED = "#8c959f"


def rms(point: PointReport) -> float | None:
    """Root mean square of the activation's finite entries: ``||x|| / sqrt(n)``.

    From the report's statistics (population std): ``rms^2 = mean^2 + std^2``. Per element,
    so points of different sizes compare; ``None`` without statistics or finite entries.
    """
    stats = point.stats
    if stats is None or stats.mean is None or stats.std is None:
        return None
    return math.sqrt(stats.mean**2 + stats.std**2)


def l2_norm(point: PointReport) -> float | None:
    """The Frobenius norm of the activation's finite entries (``rms * sqrt(n)``)."""
    value = rms(point)
    if value is None or point.stats is None:
        return None
    count = math.prod(point.stats.shape) - point.stats.nan - point.stats.inf
    return value * math.sqrt(max(count, 0))


@dataclass(frozen=True)
class Layered:
    """Points grouped by layer: ``values[kind][layer]`` is the RMS norm (or None)."""

    layers: tuple[int, ...]
    kinds: tuple[str, ...]
    values: dict[str, dict[int, float | None]]


def split_layer(name: str) -> tuple[str, int, str] | None:
    """``"blocks.3.attn.hook_q"`` -> ``("blocks", 3, "attn.hook_q")``; None without a layer index."""
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.isdigit():
            return ".".join(parts[:i]), int(part), ".".join(parts[i + 1 :])
    return None


def layered(report: HookReport) -> Layered | None:
    """The points with statistics that sit in numbered layers, when there are at least two layers."""
    found: list[tuple[str, int, str, float | None]] = []
    for point in report.points:
        split = split_layer(point.name)
        if split is not None and point.stats is not None:
            found.append((*split, rms(point)))
    layers = sorted({layer for _, layer, _, _ in found})
    if len(layers) < 2:
        return None
    single_prefix = len({prefix for prefix, _, _, _ in found}) == 1
    values: dict[str, dict[int, float | None]] = {}
    for prefix, layer, rest, value in found:
        kind = rest if single_prefix else f"{prefix}.*.{rest}"
        values.setdefault(kind, {})[layer] = value
    return Layered(tuple(layers), tuple(values), values)


def _svg_of(draw: Callable[[Figure], None], height: float) -> str:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "the html reporter draws its plots with matplotlib: pip install matplotlib "
            "(a dependency of hookpoints-html)"
        ) from exc
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # real <text>, not glyph paths
            "svg.hashsalt": "hookpoints-html",  # the same report gives the same SVG
            "text.parse_math": False,  # a "$" in a hook name is a dollar sign, not mathtext
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        figure = Figure(figsize=(FIG_WIDTH, height), layout="constrained")
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _bar_height(rows: int) -> float:
    return max(1.6, 0.9 + ROW_HEIGHT * rows)


def _names_axis(ax: Axes, names: Sequence[str]) -> None:
    ax.set_yticks(range(len(names)), labels=list(names), fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)  # model order, top to bottom
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#d0d7de", linewidth=0.6)
    ax.set_axisbelow(True)


def norms_plot(report: HookReport) -> str | None:
    """Per-layer RMS norms as a heatmap (kinds x layers), or per point as bars without layers."""
    grouped = layered(report)
    if grouped is not None:
        return _norms_heatmap(grouped)
    points = [(p.name, rms(p)) for p in report.points if rms(p) is not None]
    if not points:
        return None

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        names = [name for name, _ in points]
        values = [value or 0.0 for _, value in points]
        ax.barh(range(len(values)), values, color=ACCENT, height=0.7)
        _names_axis(ax, names)
        ax.set_xlabel("RMS norm  ||x|| / sqrt(n)")
        ax.set_title("Activation norm per hook point", loc="left")

    return _svg_of(draw, _bar_height(len(points)))


def _norms_heatmap(grouped: Layered) -> str:
    import numpy
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.ticker import LogFormatter

    matrix = [
        [math.nan if (v := grouped.values[kind].get(layer)) is None else v for layer in grouped.layers]
        for kind in grouped.kinds
    ]
    finite = [v for row in matrix for v in row if math.isfinite(v)]
    positive = [v for v in finite if v > 0]
    annotate = len(grouped.kinds) * len(grouped.layers) <= 400

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        if positive and max(positive) > min(positive) * 1.0001:
            norm: Normalize = LogNorm(vmin=min(positive), vmax=max(positive))
        else:
            top = max(finite, default=1.0) or 1.0
            norm = Normalize(vmin=0.0, vmax=top)
        masked = numpy.ma.masked_invalid(
            [[v if v > 0 or not positive else math.nan for v in row] for row in matrix]
        )
        # Vector cells (pcolormesh), not imshow: an image would be a raster inside the SVG.
        image = ax.pcolormesh(masked, cmap="viridis", norm=norm, edgecolors="#ffffff", linewidth=0.5)
        ax.set_facecolor("#eaeef2")  # cells without a value
        ax.set_xlim(0, len(grouped.layers))
        ax.set_ylim(len(grouped.kinds), 0)  # model order, top to bottom
        centres = [i + 0.5 for i in range(len(grouped.layers))]
        ax.set_xticks(centres, labels=[str(layer) for layer in grouped.layers])
        ax.set_yticks([i + 0.5 for i in range(len(grouped.kinds))], labels=list(grouped.kinds), fontsize=8)
        ax.set_xlabel("layer")
        ax.set_title("Activation RMS norm per layer  ||x|| / sqrt(n)", loc="left")
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        if annotate:
            for row, values in enumerate(matrix):
                for column, value in enumerate(values):
                    if math.isfinite(value):
                        shade = norm(value) if value > 0 or not positive else 0.0
                        ax.text(
                            column + 0.5,
                            row + 0.5,
                            format_number(value),
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="black" if float(shade) > 0.6 else "white",
                        )
        colorbar = figure.colorbar(image, ax=ax, label="RMS norm", shrink=0.8)
        if isinstance(norm, LogNorm):  # plain labels: the default log labels are mathtext
            colorbar.ax.yaxis.set_major_formatter(LogFormatter())
            colorbar.ax.yaxis.set_minor_formatter(
                LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))
            )
        if colorbar.solids is not None:
            colorbar.solids.set_rasterized(False)  # matplotlib rasterizes long colorbars

    height = max(2.2, 1.2 + 0.24 * len(grouped.kinds))
    return _svg_of(draw, height)


def comparison_plot(report: HookReport, comparison: CacheComparison) -> str | None:
    """Relative change ``||patched - clean|| / ||clean||`` per point, in the report's point order.

    The first divergence is drawn in red and labelled; an infinite change (shapes differ, a
    value became NaN/Inf) is drawn hatched at the right edge, with its reason.
    """
    by_name = {d.name: d for d in comparison.diffs}
    order = [p.name for p in report.points if p.name in by_name]
    order += [d.name for d in comparison.diffs if d.name not in set(order)]
    if not order:
        return None
    diffs = [by_name[name] for name in order]
    finite = [d.rel_norm for d in diffs if math.isfinite(d.rel_norm)]
    cap = max([*finite, 0.0]) * 1.15 or 1.0  # where an infinite change is drawn
    first = comparison.first_divergence

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        values = [d.rel_norm if math.isfinite(d.rel_norm) else cap for d in diffs]
        colors = [
            ALERT
            if d.name == first
            else (ACCENT if d.max_abs_diff > comparison.atol or d.shapes_differ else MUTED)
            for d in diffs
        ]
        bars = ax.barh(range(len(values)), values, color=colors, height=0.7)
        for bar, diff in zip(bars, diffs, strict=True):
            if not math.isfinite(diff.rel_norm):
                bar.set_hatch("///")
                label = "shape differs" if diff.shapes_differ else "inf (NaN/Inf appeared)"
                ax.annotate(
                    label,
                    (bar.get_width(), bar.get_y() + 0.35),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                    color=ALERT,
                )
        _names_axis(ax, order)
        if first is not None:
            index = order.index(first)
            ax.annotate(
                "first divergence",
                (values[index], index),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color=ALERT,
                fontweight="bold",
            )
        ax.set_xlim(0, cap * 1.25)
        ax.set_xlabel("relative change  ||patched - clean|| / ||clean||")
        title = (
            f"Clean vs patched: first divergence at {first}" if first else "Clean vs patched: no divergence"
        )
        ax.set_title(title, loc="left")

    return _svg_of(draw, _bar_height(len(order)))


def fired_plot(report: HookReport) -> str | None:
    """Times each watched point fired in the recorded run; never-fired points in red."""
    points = [p for p in report.points if p.fired is not None]
    if not report.recorded or not points:
        return None
    from matplotlib.ticker import MaxNLocator

    top = max((p.fired or 0 for p in points), default=0) or 1

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        counts = [p.fired or 0 for p in points]
        ax.barh(
            range(len(points)), counts, color=[ALERT if p.never_fired else ACCENT for p in points], height=0.7
        )
        for index, point in enumerate(points):
            if point.never_fired:
                ax.annotate(
                    "never fired",
                    (0, index),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                    color=ALERT,
                )
        _names_axis(ax, [p.name for p in points])
        ax.set_xlim(0, top * 1.15)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("times fired in the recorded run")
        ax.set_title("Fire counts", loc="left")

    return _svg_of(draw, _bar_height(len(points)))
