"""What ``transformer_lens.hook_points`` is once :func:`hookpoints.interop.transformer_lens.install` ran.

Every name TransformerLens 3.9's ``hook_points`` module exports, bound to hookpoints'
implementation where one exists; TransformerLens's own messages where its code or tests
read them.
"""

from __future__ import annotations

import warnings
from typing import Any, Union

import torch
from torch import Tensor

from hookpoints.core.handles import LensHandle
from hookpoints.core.hook_point import AliasedHookPoint, HookPoint
from hookpoints.core.introspection import HookIntrospectionMixin
from hookpoints.core.names import NamesFilter
from hookpoints.core.protocols import HookFunction

_HookFunctionProtocol = HookFunction
_AliasedHookPoint = AliasedHookPoint
DeviceType = Union[torch.device, None]
_grad_t = Union[tuple[Tensor, ...], Tensor]

__all__ = [  # plus BaseTensorConversion, TransformerLens's own class, read on first use
    "DeviceType",
    "HookFunction",
    "HookIntrospectionMixin",
    "HookPoint",
    "LensHandle",
    "NamesFilter",
]


def __getattr__(name: str) -> Any:
    if name == "BaseTensorConversion":  # TransformerLens's own class, imported on first use
        from transformer_lens.conversion_utils.conversion_steps.base_tensor_conversion import (
            BaseTensorConversion,
        )

        return BaseTensorConversion
    if name == "HookedRootModule":
        from transformer_lens.HookedRootModule import HookedRootModule

        warnings.warn(
            "Importing HookedRootModule from transformer_lens.hook_points is "
            "deprecated and will be removed in TransformerLens 4.0. Import it from "
            "transformer_lens (preferred) or transformer_lens.HookedRootModule instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return HookedRootModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
