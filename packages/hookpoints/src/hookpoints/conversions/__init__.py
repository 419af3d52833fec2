"""Conversions: the views hooks see through ``HookPoint.enable_reshape``.

``base`` holds the base classes (``BaseTensorConversion``, ``ChainConversion``,
``IdentityConversion``); conversion steps by name come from plugins, and this package is
their registry's front door: ``hookpoints.conversions.create("split_heads", n_heads=4)``.
"""

from __future__ import annotations

from ..registries import CONVERSIONS
from .base import BaseTensorConversion, ChainConversion, IdentityConversion, TensorConversion

registry = CONVERSIONS

available = registry.available
get = registry.get
create = registry.create
source = registry.source

__all__ = [
    "BaseTensorConversion",
    "ChainConversion",
    "IdentityConversion",
    "TensorConversion",
    "available",
    "create",
    "get",
    "registry",
    "source",
]
