"""Run TransformerLens's own models on hookpoints: ``hookpoints.interop.transformer_lens.install()``.

TransformerLens's ``HookedTransformer``, ``HookedEncoder``, its components and every library
built on them (SAELens) import ``HookPoint`` from ``transformer_lens.hook_points`` and
``HookedRootModule`` from ``transformer_lens.HookedRootModule``. :func:`install` registers
hookpoints' stand-ins under those two module names in ``sys.modules``, so that those models
are built on hookpoints' hook points without a line of their code changed. Call it before the
first ``import transformer_lens``.

``sys.modules`` entries rather than an import hook: import hooks other tools install later at
the front of ``sys.meta_path`` (jaxtyping's pytest plugin, which TransformerLens's tests use)
would otherwise load TransformerLens's own modules first. The stand-ins import nothing of
TransformerLens until one of its names is read, so installing costs nothing.
"""

from __future__ import annotations

import importlib
import sys

#: TransformerLens module -> the hookpoints module that stands in for it.
REPLACED_MODULES = {
    "transformer_lens.hook_points": "hookpoints.interop.tl_hook_points",
    "transformer_lens.HookedRootModule": "hookpoints.interop.tl_hooked_root_module",
}


def is_installed() -> bool:
    """Whether :func:`install` is in effect."""
    return all(
        getattr(sys.modules.get(name), "__name__", None) == stand_in
        for name, stand_in in REPLACED_MODULES.items()
    )


def install() -> None:
    """Build TransformerLens models on hookpoints from now on (call before importing it).

    Raises:
        RuntimeError: TransformerLens's own hook modules are already imported; models built
            from them would mix the two libraries.
    """
    if is_installed():
        return
    loaded = [name for name in REPLACED_MODULES if name in sys.modules]
    if loaded:
        raise RuntimeError(
            f"hookpoints.interop.transformer_lens.install() must run before transformer_lens is "
            f"imported; {loaded[0]} is already loaded (call install() first, e.g. at the top of "
            "the script or in a conftest.py)"
        )
    for name, stand_in in REPLACED_MODULES.items():
        sys.modules[name] = importlib.import_module(stand_in)


def uninstall() -> None:
    """Stop serving hookpoints' modules to later imports (already built models keep theirs)."""
    for name, stand_in in REPLACED_MODULES.items():
        if getattr(sys.modules.get(name), "__name__", None) == stand_in:
            del sys.modules[name]
