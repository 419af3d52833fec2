"""hookpoints: read, cache, patch and report activations and gradients in PyTorch models.

A drop-in superset of TransformerLens's ``hook_points`` and ``HookedRootModule``:
``from hookpoints import HookPoint, HookedRootModule`` is all a port needs. The layout is in
ARCHITECTURE.md; in short, ``core`` is the hook system, ``conversions`` and ``aliases`` the
views on it, ``attached``, ``capturing`` and ``reports`` what is built on them, ``plugins`` the
plugin host and the API for plugin authors.

``import hookpoints`` stays light: it imports neither torch nor the plugin host. The core
classes load (with torch) on first use, as do the example models, reports, capture and every
plugin, so ``hookpoints --help`` answers before torch is imported.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import _host_link
from ._version import __version__
from .errors import HookNameError, HookShapeError, NonInvertibleConversionError

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from .attached import attach
    from .capturing.loop import capture, iter_batches
    from .conversions.base import BaseTensorConversion, IdentityConversion, TensorConversion
    from .core.cache import ActivationCache
    from .core.handles import LensHandle, LensHandleGroup
    from .core.hook_point import AliasedHookPoint, HookPoint
    from .core.introspection import HookIntrospectionMixin
    from .core.names import NameSelector, NamesFilter, normalize_names_filter
    from .core.protocols import HookFunction
    from .core.root import HookedRootModule
    from .core.scopes import HookScope
    from .core.slicing import Slice
    from .examples import TinyGPT, TinyGPTConfig
    from .plugins.hookspecs import hookimpl
    from .reports.data import build_report, compare_caches
    from .reports.recording import record
    from .reports.render import format_hook_report, report

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
    "TinyGPT",
    "TinyGPTConfig",
    "__version__",
    "attach",
    "build_report",
    "capture",
    "compare_caches",
    "format_hook_report",
    "hookimpl",
    "iter_batches",
    "normalize_names_filter",
    "record",
    "report",
]


class _PluginHostOnDemand:
    """The plugin host as the registries see it: imported on the first registry use."""

    def _host(self) -> Any:
        return importlib.import_module("hookpoints.plugins.host").HOST

    @property
    def generation(self) -> int:
        return int(self._host().generation)

    @property
    def load_errors(self) -> list[Any]:
        return list(self._host().load_errors)

    def contributions(self, hook_name: str, descriptor_type: type[Any]) -> list[Any]:
        return list(self._host().contributions(hook_name, descriptor_type))


_host_link.contribution_source = _PluginHostOnDemand()

# Imported on first attribute access: the core (which imports torch) and the layers above it.
_LAZY = {
    "ActivationCache": ("hookpoints.core.cache", "ActivationCache"),
    "AliasedHookPoint": ("hookpoints.core.hook_point", "AliasedHookPoint"),
    "HookFunction": ("hookpoints.core.protocols", "HookFunction"),
    "HookIntrospectionMixin": ("hookpoints.core.introspection", "HookIntrospectionMixin"),
    "HookPoint": ("hookpoints.core.hook_point", "HookPoint"),
    "HookScope": ("hookpoints.core.scopes", "HookScope"),
    "HookedRootModule": ("hookpoints.core.root", "HookedRootModule"),
    "LensHandle": ("hookpoints.core.handles", "LensHandle"),
    "LensHandleGroup": ("hookpoints.core.handles", "LensHandleGroup"),
    "NameSelector": ("hookpoints.core.names", "NameSelector"),
    "NamesFilter": ("hookpoints.core.names", "NamesFilter"),
    "Slice": ("hookpoints.core.slicing", "Slice"),
    "normalize_names_filter": ("hookpoints.core.names", "normalize_names_filter"),
    "BaseTensorConversion": ("hookpoints.conversions.base", "BaseTensorConversion"),
    "IdentityConversion": ("hookpoints.conversions.base", "IdentityConversion"),
    "TensorConversion": ("hookpoints.conversions.base", "TensorConversion"),
    "attach": ("hookpoints.attached", "attach"),
    "capture": ("hookpoints.capturing.loop", "capture"),
    "iter_batches": ("hookpoints.capturing.loop", "iter_batches"),
    "record": ("hookpoints.reports.recording", "record"),
    "report": ("hookpoints.reports.render", "report"),
    "format_hook_report": ("hookpoints.reports.render", "format_hook_report"),
    "build_report": ("hookpoints.reports.data", "build_report"),
    "compare_caches": ("hookpoints.reports.data", "compare_caches"),
    "hookimpl": ("hookpoints.plugins.hookspecs", "hookimpl"),
    "TinyGPT": ("hookpoints.examples", "TinyGPT"),
    "TinyGPTConfig": ("hookpoints.examples", "TinyGPTConfig"),
}

# Names that moved: old name -> (module, new name). Kept one release with a warning.
_MOVED = {
    "HookFunctionProtocol": ("hookpoints.core.protocols", "HookFunction"),
}

#: Modules of the flat 0.1 layout -> where they live now (importable, with a warning, until 0.3).
MOVED_MODULES = {
    "hookpoints.aliasing": "hookpoints.aliases.points",
    "hookpoints.attaching": "hookpoints.attached",
    "hookpoints.builtin_plugin": "hookpoints.plugins.builtins",
    "hookpoints.cache": "hookpoints.core.cache",
    "hookpoints.conversion": "hookpoints.conversions.base",
    "hookpoints.descriptors": "hookpoints.extension_points",
    "hookpoints.handles": "hookpoints.core.handles",
    "hookpoints.hook_point": "hookpoints.core.hook_point",
    "hookpoints.hookspecs": "hookpoints.plugins.hookspecs",
    "hookpoints.introspection": "hookpoints.core.introspection",
    "hookpoints.names": "hookpoints.core.names",
    "hookpoints.protocols": "hookpoints.core.protocols",
    "hookpoints.recording": "hookpoints.reports.recording",
    "hookpoints.registry": "hookpoints.registries",
    "hookpoints.report_data": "hookpoints.reports.data",
    "hookpoints.reporters": "hookpoints.reports",
    "hookpoints.reporting": "hookpoints.reports.render",
    "hookpoints.root": "hookpoints.core.root",
    "hookpoints.sinks": "hookpoints.capturing.sinks",
    "hookpoints.slicing": "hookpoints.core.slicing",
}


def _warn_moved(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}; the old path keeps working until hookpoints 0.3",
        DeprecationWarning,
        stacklevel=3,
    )


class _MovedModuleFinder:
    """``import hookpoints.report_data`` (0.1 layout) gives the module that replaced it.

    A meta path finder and loader by protocol; not derived from ``importlib.abc``, whose
    import (importlib.resources, pathlib) would cost ``import hookpoints`` about 20 ms.
    """

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in MOVED_MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)  # type: ignore[arg-type]
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED_MODULES[spec.name]
        _warn_moved(spec.name, new)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        return None


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


#: Subpackages and modules reachable as attributes (``hookpoints.reports.create(...)``).
_SUBMODULES = frozenset(
    {
        "aliases",
        "attached",
        "capturing",
        "cli",
        "conversions",
        "core",
        "demo",
        "errors",
        "examples",
        "extension_points",
        "interop",
        "plugins",
        "registries",
        "reports",
        "testing",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"hookpoints.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if f"hookpoints.{name}" in MOVED_MODULES:
        return importlib.import_module(f"hookpoints.{name}")
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
