"""hooks() costs work proportional to the hooks it adds, not to the model's size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hookpoints import HookedRootModule, HookPoint


class Wide(HookedRootModule):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.points = nn.ModuleList(HookPoint() for _ in range(n))
        self.setup()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for p in self.points:
            x = p(x)
        return x


@pytest.mark.parametrize("n_points", [10, 10_000])
def test_scope_touches_only_the_points_it_hooks(n_points: int, monkeypatch: pytest.MonkeyPatch) -> None:
    model = Wide(n_points)
    touched: list[tuple[str, str | None]] = []
    for method in ("_insert", "_withdraw", "remove_hooks", "clear_context"):
        original = getattr(HookPoint, method)

        def spy(
            self: HookPoint, *args: object, _original=original, _method=method, **kwargs: object
        ) -> object:
            touched.append((_method, self.name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(HookPoint, method, spy)
    with model.hooks(fwd_hooks=[(["points.3", "points.7"], lambda t, hook: None)]):
        pass
    assert touched == [
        ("_insert", "points.3"),
        ("_insert", "points.7"),
        ("_withdraw", "points.3"),
        ("_withdraw", "points.7"),
    ]
