"""The plugin's own tests: it is discovered through its entry point and passes conformance."""

from __future__ import annotations

import hookpoints
from hookpoints.examples import TinyGPT, TinyGPTConfig
from hookpoints.testing import check_alias_scheme, check_conversion_step, check_reporter


def test_discovered_through_entry_point() -> None:
    source = hookpoints.conversions.source("template_scale")
    assert source.distribution == "hookpoints-template" and source.plugin == "template"


def test_conversion_step_conforms() -> None:
    check_conversion_step("template_scale", params={"factor": 4.0})


def test_alias_scheme_conforms() -> None:
    check_alias_scheme(
        "template", TinyGPT(TinyGPTConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32))
    )


def test_reporter_conforms() -> None:
    check_reporter("template")
    model = TinyGPT(TinyGPTConfig(n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32))
    assert hookpoints.report(model, reporter="template") == "template: 21 points, 0 hooked, 0 captured"
