"""What the plugin contributes: imported only when one of its contributions is first built.

``plugin.py`` names these as ``"hookpoints_template.contributions:..."`` strings, so that
scanning plugins (which every first registry lookup does) never imports this module, or the
heavy libraries a real plugin's contributions would need.
"""

from __future__ import annotations

import torch

from hookpoints.plugins import HookReport


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


class TemplateCountSink:
    """A cache sink that keeps no tensor: rows seen per point (the leading dimension)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}

    def write(self, name: str, tensor: torch.Tensor, *, batch: int) -> None:
        self.rows[name] = self.rows.get(name, 0) + (int(tensor.shape[0]) if tensor.ndim else 1)

    def end_batch(self, batch: int) -> None:
        return None

    def finalize(self) -> dict[str, int]:
        return dict(self.rows)
