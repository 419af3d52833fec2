"""hookpoints-einops: einops views for ``HookPoint.enable_reshape``.

Steps (by name): ``rearrange`` and ``repeat`` (reversible), ``reduce`` (read-only).
"""

from .steps import EinopsStep, Rearrange, Reduce, Repeat

__version__ = "0.1.0"

__all__ = ["EinopsStep", "Rearrange", "Reduce", "Repeat"]
