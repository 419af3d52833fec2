"""The html reporter: discovery, conformance, what the page holds, escaping, nothing fetched."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hookpoints_html import HtmlReporter, export_html, render_html, repr_html
from hookpoints_html.plots import l2_norm, layered, rms, split_layer
from html_page import read_page

import hookpoints
from hookpoints.plugins import (
    ActivationStats,
    CacheComparison,
    HookInfo,
    HookReport,
    PointDiff,
    PointReport,
    reporters,
)
from hookpoints.testing import check_reporter

NETWORK = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //, ftp://...


def test_discovered_through_entry_point_and_never_the_default() -> None:
    source = reporters.source("html")
    assert source.distribution == "hookpoints-html" and source.plugin == "html"
    assert hookpoints.reports.default().name != "html"


def test_scanning_plugins_imports_neither_the_reporter_nor_matplotlib() -> None:
    code = (
        "import sys, hookpoints\n"
        "from hookpoints.plugins import reporters\n"
        "assert 'html' in reporters.available()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'hookpoints_html'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['hookpoints_html', 'hookpoints_html.plugin']"


def test_an_inventory_needs_no_matplotlib() -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # importing it now raises ImportError\n"
        "from hookpoints_html import render_html\n"
        "from hookpoints import build_report\n"
        "from hookpoints.testing import Arith\n"
        "page = render_html(build_report(Arith()))\n"
        "assert '<table>' in page and '<svg' not in page\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("width", [50, 80, 120])
def test_conforms(width: int) -> None:
    check_reporter("html", width=width)


def test_report_function_returns_the_page(reports: dict[str, HookReport]) -> None:
    page = hookpoints.report(hookpoints.testing.Arith(), reporter="html", width=100)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>hookpoints report: Arith</title>" in page


@pytest.mark.parametrize("width", [60, 100, 160])
def test_lines_fit_the_width_and_the_page_does_not_change(reports: dict[str, HookReport], width: int) -> None:
    page = render_html(reports["comparison"], width=width)
    assert max(len(line) for line in page.splitlines()) <= width
    assert "\x1f" not in page
    wide = render_html(reports["comparison"], width=100_000)
    # Only where whitespace was may a line break be: the same markup with spaces normalised.
    assert re.sub(r"\s+", " ", page) == re.sub(r"\s+", " ", wide)


def test_same_report_same_bytes(reports: dict[str, HookReport]) -> None:
    assert render_html(reports["comparison"]) == render_html(reports["comparison"])


def test_comparison_page_has_every_section_table_and_plot(reports: dict[str, HookReport]) -> None:
    data = reports["comparison"]
    page = read_page(render_html(data))
    assert page.title == "hookpoints report: TinyGPT"
    assert page.tags.count("svg") == 3  # norms, clean vs patched, fire counts
    assert page.tags.count("table") == 2  # changed points, hook points
    headings = page.texts_in("h2")
    assert headings == ["Activation norms per layer", "Clean vs patched", "Fire counts", "Hook points"]
    assert page.texts_in("nav") == [] and page.texts_in("a") == headings  # one link per section
    # the first divergence: named in the callout, marked in the table and in the plot
    assert data.comparison is not None and data.comparison.first_divergence == "blocks.0.attn.hook_z"
    raw = render_html(data, width=10_000)
    assert re.search(r'<tr class="hp-first">\s*<td class="name">blocks\.0\.attn\.hook_z</td>', raw)
    assert "First divergence:" in raw
    svg_texts = page.texts_in("text")
    assert "first divergence" in svg_texts
    assert "Clean vs patched: first divergence at blocks.0.attn.hook_z" in svg_texts
    # every point of the model is in the hook-point table and in the fire-count plot
    cells = page.texts_in("td")
    for point in data.points:
        assert point.name in cells
        assert svg_texts.count(point.name) >= 2  # comparison bars and fire counts


def test_norms_are_per_layer_and_match_the_statistics(reports: dict[str, HookReport]) -> None:
    data = reports["cached"]
    grouped = layered(data)
    assert grouped is not None and grouped.layers == (0, 1)
    assert grouped.kinds[0] == "hook_resid_pre" and "attn.hook_z" in grouped.kinds
    model = hookpoints.testing.small_gpt()
    with torch.no_grad():
        _, cache = model.run_with_cache(hookpoints.testing.small_tokens())
    resid = cache["blocks.1.hook_resid_post"].to(torch.float64)
    expected_rms = float(resid.square().mean().sqrt())
    assert grouped.values["hook_resid_post"][1] == pytest.approx(expected_rms, rel=1e-9)
    point = next(p for p in data.points if p.name == "blocks.1.hook_resid_post")
    assert l2_norm(point) == pytest.approx(float(resid.norm()), rel=1e-9)
    page = read_page(render_html(data))
    svg_texts = page.texts_in("text")
    assert "layer" in svg_texts and "hook_resid_post" in svg_texts  # heatmap axes
    assert page.tags.count("svg") == 1  # no comparison, no recorded run


def test_split_layer() -> None:
    assert split_layer("blocks.3.attn.hook_q") == ("blocks", 3, "attn.hook_q")
    assert split_layer("model.layers.12.mlp.hook_post") == ("model.layers", 12, "mlp.hook_post")
    assert split_layer("hook_embed") is None and split_layer("ln_final.hook_scale") is None


def test_without_layers_norms_are_bars_per_point(reports: dict[str, HookReport]) -> None:
    data = reports["arith"]
    assert layered(data) is None
    page = read_page(render_html(data))
    assert page.tags.count("svg") == 2  # norms per point, fire counts
    svg_texts = page.texts_in("text")
    assert "Activation norm per hook point" in svg_texts and "Fire counts" in svg_texts


def test_never_fired_and_nan_are_called_out(reports: dict[str, HookReport]) -> None:
    raw = render_html(reports["arith"], width=10_000)
    assert re.search(r'<p class="hp-alert">Never fired \(1\): <code>block\.hook_unused</code></p>', raw)
    assert re.search(
        r'<p class="hp-alert">NaN at \(2\): <code>block\.hook_mid</code>, <code>hook_out</code></p>', raw
    )
    assert re.search(r'<tr class="hp-never">\s*<td class="name">block\.hook_unused</td>', raw)
    assert re.search(r'<tr class="hp-hooked hp-nan">\s*<td class="name">block\.hook_mid</td>', raw)
    assert "never fired" in read_page(raw).texts_in("text")  # the fire-count plot marks it


def test_unchanged_comparison_says_no_divergence(reports: dict[str, HookReport]) -> None:
    raw = render_html(reports["unchanged"], width=10_000)
    assert "No divergence: the patched run equals the clean one." in raw
    assert "Clean vs patched: no divergence" in read_page(raw).texts_in("text")
    assert "changed points" not in raw  # no table of changes when nothing changed


def test_inventory_has_a_table_and_no_plot(reports: dict[str, HookReport]) -> None:
    page = read_page(render_html(reports["inventory"]))
    assert "svg" not in page.tags and page.tags.count("table") == 1
    hooked = [c for c in page.texts_in("code") if c.startswith("fwd:")]
    assert hooked and "blocks.0.attn.hook_z" in page.texts_in("td")


def _stats(shape: tuple[int, ...] = (2, 3), nan: int = 0, inf: int = 0) -> ActivationStats:
    return ActivationStats(shape, "float32", "cpu", 24, 0.5, 2.0, 4.0, nan, inf)


NASTY = "<script>alert(\"x\")</script>&amp;'q' $x$"


def _nasty_report() -> HookReport:
    points = (
        PointReport(
            "blocks.0." + NASTY,
            (HookInfo("fwd", "<b>hook</b>", True, 0, False, ("<i>",)),),
            "<Conv>",
            _stats(nan=1),
            2,
            0.001,
        ),
        PointReport("blocks.1." + NASTY, (), None, _stats(inf=2), 0, 0.0),
        PointReport("plain", (), None, None, 1, 0.0),
    )
    comparison = CacheComparison(
        (
            PointDiff("blocks.0." + NASTY, math.inf, math.inf, shapes_differ=True),
            PointDiff("plain", 0.5, 0.25),
        ),
        "blocks.0." + NASTY,
        0.0,
        ("<only-clean>",),
        ("<only-patched>",),
    )
    return HookReport("<Model & Co>", points, True, True, comparison)


def test_names_are_escaped_everywhere() -> None:
    raw = render_html(_nasty_report(), width=10_000)
    assert "<script" not in raw and "<b>" not in raw and "<i>" not in raw and "<Conv>" not in raw
    assert "<only-clean>" not in raw and "<Model" not in raw
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;&amp;amp;'q'" in raw
    page = read_page(raw)
    assert "script" not in page.tags
    assert page.title == "hookpoints report: <Model & Co>"
    cells = page.texts_in("td")
    assert "blocks.0." + NASTY in cells and "<Conv>" in cells
    assert "fwd:<b>hook</b> (permanent) as <i>" in page.texts_in("code")
    # the names reach the plots as text, unchanged ("$x$" is no mathtext)
    svg_texts = page.texts_in("text")
    assert "blocks.0." + NASTY in svg_texts and "blocks.1." + NASTY in svg_texts
    assert "shape differs" in svg_texts


def test_the_page_names_no_network_resource(reports: dict[str, HookReport]) -> None:
    for case in ("comparison", "arith", "inventory"):
        markup = render_html(reports[case])
        page = read_page(markup)
        assert page.references, "the page should have in-page links (navigation, SVG references)"
        for tag, name, value in page.references:
            assert not NETWORK.match(value), f"<{tag} {name}={value!r}> names a network resource"
            assert value.startswith("#"), f"<{tag} {name}={value!r}> leaves the page"
            assert value[1:] in page.ids, f"<{tag} {name}={value!r}> points to no element of the page"
        urls = page.css_urls + page.attribute_urls
        if "svg" in page.tags:
            assert page.attribute_urls, "SVG clip paths are url(#...) references"
        assert all(url.startswith("#") and url[1:] in page.ids for url in urls), urls
        assert page.css_imports == [] and "@import" not in markup
        for tag in ("script", "link", "img", "iframe", "object", "embed", "base", "video", "audio"):
            assert tag not in page.tags, f"the page has a <{tag}>"
        assert "data:" not in markup  # not even inline rasters: everything is vector
        assert len(page.ids) == len(set(page.ids)), "ids repeat"


def test_content_security_policy_forbids_fetching() -> None:
    raw = render_html(_nasty_report(), width=10_000)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', raw)
    assert csp is not None and "default-src 'none'" in csp.group(1)


def test_export_html_writes_the_page(tmp_path: Path, reports: dict[str, HookReport]) -> None:
    data = reports["comparison"]
    path = export_html(data, tmp_path / "report.html", title="ablation & co", width=90)
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text == render_html(data, title="ablation & co", width=90)
    assert "<title>ablation &amp; co</title>" in text
    assert HtmlReporter().export_html(data, tmp_path / "b.html").read_text(encoding="utf-8") == render_html(
        data
    )
    assert HtmlReporter().render(data) == render_html(data).rstrip("\n")


def test_notebook_fragment(reports: dict[str, HookReport]) -> None:
    data = reports["comparison"]
    first, second = repr_html(data), HtmlReporter().repr_html(data)
    for fragment in (first, second):
        assert fragment.startswith('<div class="hookpoints-report"')
        assert fragment.rstrip().endswith("</div>")
        assert "<html" not in fragment and "<head" not in fragment and "<!DOCTYPE" not in fragment
        page = read_page(fragment)
        assert page.tags.count("svg") == 3 and page.tags[:2] == ["div", "style"]
        rules = [rule.strip() for rule in page.css[0].split("}") if rule.strip()]
        assert rules and all(rule.startswith(".hookpoints-report") for rule in rules)  # scoped styles
    # two outputs in one notebook page: no id in common
    ids_first, ids_second = set(read_page(first).ids), set(read_page(second).ids)
    assert ids_first and not ids_first & ids_second


def test_rms_from_statistics() -> None:
    point = PointReport(
        "p", (), None, ActivationStats((4,), "float32", "cpu", 16, 1.0, 1.0, 2.0, 1, 0), 1, 0.0
    )
    assert rms(point) == pytest.approx(math.sqrt(2.0))
    assert l2_norm(point) == pytest.approx(math.sqrt(2.0) * math.sqrt(3))  # 3 finite entries
    assert rms(PointReport("q", (), None, None, 0, 0.0)) is None
