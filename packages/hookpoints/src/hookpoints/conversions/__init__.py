"""Conversions: the views hooks see through ``HookPoint.enable_reshape``.

``base`` holds the base classes (``BaseTensorConversion``, ``ChainConversion``,
``IdentityConversion``); conversion steps by name come from plugins, and this package is
their registry's front door: ``hookpoints.conversions.create("split_heads", n_heads=4)``.
"""

from __future__ import annotations

from typing import Any

from .base import BaseTensorConversion, ChainConversion, IdentityConversion, TensorConversion


def __getattr__(name: str) -> Any:
    # The registry's front door, bound on first use: ``import hookpoints`` imports the base
    # classes from here and must not build the registries.
    if name in ("registry", "available", "get", "create", "source"):
        from ..registries import CONVERSIONS

        return CONVERSIONS if name == "registry" else getattr(CONVERSIONS, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
