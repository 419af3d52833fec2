"""The plugin module named by the ``einops`` entry point.

einops is imported when a step is built, not when hookpoints scans its plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hookpoints import hookimpl
from hookpoints.plugins import ConversionStep


def rearrange(pattern: str, **axes_lengths: int) -> Any:
    from .steps import Rearrange

    return Rearrange(pattern, **axes_lengths)


def repeat(pattern: str, **axes_lengths: int) -> Any:
    from .steps import Repeat

    return Repeat(pattern, **axes_lengths)


def reduce(pattern: str, reduction: str | Callable[..., Any] = "mean", **axes_lengths: int) -> Any:
    from .steps import Reduce

    return Reduce(pattern, reduction, **axes_lengths)


STEPS = (
    ConversionStep(
        "rearrange", "einops.rearrange; revert by the inverse pattern, lengths inferred", rearrange
    ),
    ConversionStep("repeat", "einops.repeat; revert by the mean over the copies", repeat),
    ConversionStep("reduce", "einops.reduce (read-only)", reduce, invertible=False),
)


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield from STEPS
