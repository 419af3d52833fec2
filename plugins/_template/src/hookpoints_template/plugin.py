"""The plugin module named by the entry point: one ``@hookimpl`` per hookspec it implements.

Keep this module light: it is imported when hookpoints first looks up a registry. Import
heavy dependencies inside the factories instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from hookpoints import hookimpl
from hookpoints.plugins import AliasRule, AliasScheme, ConversionStep, HookReport, Reporter


class TemplateScale:
    """A reversible view: the activation times ``factor`` (revert divides it back)."""

    def __init__(self, factor: float = 2.0) -> None:
        if factor == 0:
            raise ValueError("template_scale: factor must be non-zero to be reversible")
        self.factor = factor

    def convert(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def revert(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.factor


class TemplateReporter:
    """A one-line summary: how many hook points, how many hooked, how many with activations."""

    def render(self, report: HookReport, *, width: int = 100, color: bool = False) -> str:
        summary = report.summary()
        text = f"template: {summary['hook_points']} points, {summary['hooked']} hooked, "
        return (text + f"{summary['with_activation']} captured")[:width]


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    # Exactly reversible for factors that are powers of two (the conformance check is exact).
    yield ConversionStep("template_scale", "multiply by a factor", TemplateScale)


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
    yield Reporter("template", "one-line summary", TemplateReporter, priority=-20)
