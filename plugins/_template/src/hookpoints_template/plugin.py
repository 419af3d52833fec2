"""The plugin module named by the entry point: one ``@hookimpl`` per hookspec it implements.

Keep this module light: hookpoints imports it when it first looks up any registry. The
descriptors name their implementations as ``"module:attribute"`` strings, imported only
when that contribution is first built (see ``contributions.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import AliasRule, AliasScheme, CacheSink, ConversionStep, Reporter

_CONTRIBUTIONS = "hookpoints_template.contributions"


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    # Exactly reversible for factors that are powers of two (the conformance check is exact).
    yield ConversionStep("template_scale", "multiply by a factor", f"{_CONTRIBUTIONS}:TemplateScale")


@hookimpl
def hookpoints_alias_schemes() -> Iterator[AliasScheme]:
    yield AliasScheme(
        "template",
        "short names for TinyGPT-style models",
        rules=(
            AliasRule("template_embed", "hook_embed"),
            AliasRule("template_resid_{layer}", "blocks.{layer}.hook_resid_post"),
        ),
    )


@hookimpl
def hookpoints_reporters() -> Iterator[Reporter]:
    yield Reporter("template", "one-line summary", f"{_CONTRIBUTIONS}:TemplateReporter", priority=-20)


@hookimpl
def hookpoints_cache_sinks() -> Iterator[CacheSink]:
    yield CacheSink(
        "template_count", "rows seen per point, nothing kept", f"{_CONTRIBUTIONS}:TemplateCountSink"
    )
