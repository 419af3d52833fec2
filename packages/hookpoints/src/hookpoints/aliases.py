"""Alias schemes by name (``hookpoints.aliases.get("transformerlens")``)."""

from __future__ import annotations

from .registry import ALIASES

registry = ALIASES

available = registry.available
get = registry.get
source = registry.source

__all__ = ["available", "get", "registry", "source"]
