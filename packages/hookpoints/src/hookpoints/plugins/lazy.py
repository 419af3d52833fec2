"""``lazy_exports``: a plugin package whose public names load their module on first access.

hookpoints imports a plugin's package when it scans the entry points, so a package
``__init__`` that imported its implementation would load the plugin's heavy dependencies
(rich, safetensors, einops) for every user of hookpoints. PEP 562 module ``__getattr__``
defers that; this builds the pair once instead of every plugin writing it again::

    _EXPORTS = {"RichReporter": ".reporter"}
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` (name -> relative module)."""

    def module_getattr(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later reads skip this function
        return value

    def module_dir() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return module_getattr, module_dir
