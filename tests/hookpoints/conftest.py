"""Shared fixtures: a small TinyGPT and a two-point toy model."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from hookpoints import HookedRootModule, HookPoint
from hookpoints.examples import TinyGPT
from hookpoints.testing import SMALL_GPT, small_gpt, small_tokens

SMALL = SMALL_GPT


class Toy(HookedRootModule):
    """y = hook_out(lin(hook_in(x))).sum() style toy with a nested module."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.hook_in = HookPoint()
        self.lin = nn.Linear(3, 3)
        self.inner = nn.Module()
        self.inner.hook_mid = HookPoint()
        self.hook_out = HookPoint()
        self.setup()

    def forward(self, x: Tensor) -> Tensor:
        h = self.hook_in(x)
        h = self.inner.hook_mid(self.lin(h))
        return self.hook_out(h * 2)


@pytest.fixture
def toy() -> Toy:
    return Toy()


@pytest.fixture
def gpt() -> TinyGPT:
    return small_gpt()


@pytest.fixture
def tokens() -> Tensor:
    return small_tokens()
