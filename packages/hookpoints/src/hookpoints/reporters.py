"""Reporters by name (``hookpoints.reporters.create("text").render(model, cache)``)."""

from __future__ import annotations

from .registry import REPORTERS

registry = REPORTERS

available = registry.available
get = registry.get
create = registry.create
default = registry.default
source = registry.source

__all__ = ["available", "create", "default", "get", "registry", "source"]
