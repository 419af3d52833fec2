"""pytest plugin for TransformerLens's own suite run on hookpoints (``nox -s tl-suite``).

TransformerLens's suite asks, with ``--jaxtyping-packages=transformer_lens,beartype.beartype``,
for every module of the ``transformer_lens`` package to be runtime type-checked, and some of
its tests rely on it (an invalid ``dir`` must raise a type-check error). With hookpoints
underneath, ``transformer_lens.hook_points`` and ``transformer_lens.HookedRootModule`` are
hookpoints' modules (see :mod:`hookpoints.interop.transformer_lens`), which jaxtyping's import
hook never sees; this plugin applies the same type checker to the classes those modules
expose, so both runs check the same API, each against its own annotations.

The shim itself is installed at interpreter start by a ``.pth`` file the session writes
(``HOOKPOINTS_TL_SHIM=1``), so that subprocesses the tests start get it too.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest

SHIM_ENV = "HOOKPOINTS_TL_SHIM"


def _typechecker(value: str) -> Any:
    module, _, name = value.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(SHIM_ENV) != "1":
        return
    from hookpoints.interop import transformer_lens as shim

    if not shim.is_installed():
        raise pytest.UsageError(f"{SHIM_ENV}=1 but hookpoints' TransformerLens shim is not installed")
    value = config.getoption("jaxtyping_packages", default=None)
    if not value:
        return
    *packages, checker = (part.strip() for part in value.split(","))
    if "transformer_lens" not in packages:
        return
    typecheck = _typechecker(checker)
    import hookpoints
    from hookpoints.core.introspection import HookIntrospectionMixin
    from hookpoints.interop.tl_hooked_root_module import HookedRootModule as ShimRoot

    for cls in (hookpoints.HookPoint, HookIntrospectionMixin, hookpoints.HookedRootModule, ShimRoot):
        typecheck(cls)
