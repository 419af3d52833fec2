"""The plugin module named by the ``einops`` entry point.

einops is imported when a step is built, not when hookpoints scans its plugins.
"""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import ConversionStep

_STEPS = "hookpoints_einops.steps"


STEPS = (
    ConversionStep(
        "rearrange",
        "einops.rearrange; revert by the inverse pattern, lengths inferred",
        f"{_STEPS}:Rearrange",
    ),
    ConversionStep("repeat", "einops.repeat; revert by the mean over the copies", f"{_STEPS}:Repeat"),
    ConversionStep("reduce", "einops.reduce (read-only)", f"{_STEPS}:Reduce", invertible=False),
)


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield from STEPS
