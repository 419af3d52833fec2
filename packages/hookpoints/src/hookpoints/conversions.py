"""Conversion steps by name (``hookpoints.conversions.create("split_heads", n_heads=4)``).

Not to be confused with :mod:`hookpoints.conversion`, which holds the conversion base class.
"""

from __future__ import annotations

from .registry import CONVERSIONS

registry = CONVERSIONS

available = registry.available
get = registry.get
create = registry.create
source = registry.source

__all__ = ["available", "create", "get", "registry", "source"]
