"""The plugin's own tests: it is discovered through its entry point and passes conformance."""

from __future__ import annotations

import sys

import hookpoints
from hookpoints.plugins import cache_sinks, conversion_steps
from hookpoints.testing import (
    check_alias_scheme,
    check_cache_sink,
    check_conversion_step,
    check_reporter,
    small_gpt,
    small_tokens,
)


def test_discovered_through_entry_point() -> None:
    source = conversion_steps.source("template_scale")
    assert source.distribution == "hookpoints-template" and source.plugin == "template"


def test_scanning_plugins_does_not_import_the_contributions() -> None:
    sys.modules.pop("hookpoints_template.contributions", None)
    hookpoints.plugins.refresh()
    assert "template_scale" in conversion_steps.available()
    assert "hookpoints_template.contributions" not in sys.modules  # imported on first build only


def test_conversion_step_conforms() -> None:
    check_conversion_step("template_scale", params={"factor": 4.0})


def test_alias_scheme_conforms() -> None:
    check_alias_scheme("template", small_gpt())


def test_reporter_conforms() -> None:
    check_reporter("template")
    model = small_gpt(n_layers=1)
    assert hookpoints.report(model, reporter="template") == "template: 21 points, 0 hooked, 0 captured"


def test_cache_sink_conforms() -> None:
    check_cache_sink("template_count")
    model = small_gpt()
    rows = hookpoints.capture(model, [small_tokens(batch=3)] * 2, "hook_embed", sink="template_count")
    assert rows == {"hook_embed": 6} and cache_sinks.source("template_count").plugin == "template"
