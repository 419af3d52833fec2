"""Alias schemes: other vocabularies for the same hook points (TransformerLens's names on HF models).

``points`` resolves a scheme's rules against a model and builds the alias points; schemes by
name come from plugins, and this package is their registry's front door:
``hookpoints.aliases.get("transformerlens")``.
"""

from __future__ import annotations

from ..registries import ALIASES

registry = ALIASES

available = registry.available
get = registry.get
source = registry.source

__all__ = ["available", "get", "registry", "source"]
