"""A deterministic model for report snapshots: every statistic is exactly representable."""

from __future__ import annotations

import torch
from torch import Tensor

from hookpoints import HookedRootModule, HookPoint


class Arith(HookedRootModule):
    """x -> hook_in -> *2 -> block.hook_mid -> +1 -> hook_out; block.hook_unused never fires."""

    def __init__(self) -> None:
        super().__init__()
        self.hook_in = HookPoint()
        self.block = torch.nn.Module()
        self.block.hook_mid = HookPoint()
        self.block.hook_unused = HookPoint()
        self.hook_out = HookPoint()
        self.setup()

    def forward(self, x: Tensor) -> Tensor:
        return self.hook_out(self.block.hook_mid(self.hook_in(x) * 2) + 1)


INPUT = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def tag(t: Tensor, *, hook: HookPoint) -> None:
    return None


def plant_nan(t: Tensor, *, hook: HookPoint) -> Tensor:
    t = t.clone()
    t[0, 0] = float("nan")
    t[1, 1] = float("inf")
    return t
