"""hookpoints: read, cache, patch and report activations and gradients in PyTorch models.

A drop-in superset of TransformerLens's ``hook_points`` and ``HookedRootModule``:
``from hookpoints import HookPoint, HookedRootModule`` is all a port needs.

``import hookpoints`` stays light: the example models, reports and demo load on first use.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from .cache import ActivationCache
from .conversion import BaseTensorConversion, IdentityConversion, TensorConversion
from .errors import HookNameError, HookShapeError, NonInvertibleConversionError
from .handles import LensHandle, LensHandleGroup
from .hook_point import AliasedHookPoint, HookPoint
from .introspection import HookIntrospectionMixin
from .names import NameSelector, NamesFilter, normalize_names_filter
from .protocols import HookFunction
from .root import HookedRootModule
from .scopes import HookScope
from .slicing import Slice

__version__ = "0.1.0"

__all__ = [
    "ActivationCache",
    "AliasedHookPoint",
    "BaseTensorConversion",
    "HookFunction",
    "HookIntrospectionMixin",
    "HookNameError",
    "HookPoint",
    "HookScope",
    "HookShapeError",
    "HookedRootModule",
    "IdentityConversion",
    "LensHandle",
    "LensHandleGroup",
    "NameSelector",
    "NamesFilter",
    "NonInvertibleConversionError",
    "Slice",
    "TensorConversion",
    "attach",
    "build_report",
    "capture",
    "compare_caches",
    "format_hook_report",
    "hookimpl",
    "normalize_names_filter",
    "record",
    "report",
]

# Heavier or optional parts, imported on first attribute access (pluggy and entry-point
# scanning included: plugins load on the first registry use, never on import).
_SUBMODULES = frozenset(
    {
        "aliases",
        "conversions",
        "descriptors",
        "hookspecs",
        "plugins",
        "registry",
        "reporters",
        "sinks",
        "testing",
    }
)
_LAZY = {
    "format_hook_report": ("hookpoints.reporting", "format_hook_report"),
    "report": ("hookpoints.reporting", "report"),
    "record": ("hookpoints.recording", "record"),
    "capture": ("hookpoints.capturing", "capture"),
    "attach": ("hookpoints.attaching", "attach"),
    "build_report": ("hookpoints.report_data", "build_report"),
    "compare_caches": ("hookpoints.report_data", "compare_caches"),
    "hookimpl": ("hookpoints.hookspecs", "hookimpl"),
    "TinyGPT": ("hookpoints.examples", "TinyGPT"),
    "TinyGPTConfig": ("hookpoints.examples", "TinyGPTConfig"),
}

# Names that moved: old name -> (module, new name). Kept one release with a warning.
_MOVED = {
    "HookFunctionProtocol": ("hookpoints.protocols", "HookFunction"),
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"hookpoints.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _MOVED:
        module, attr = _MOVED[name]
        warnings.warn(
            f"hookpoints.{name} is deprecated and will be removed in the next release; use {module}.{attr}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'hookpoints' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])
