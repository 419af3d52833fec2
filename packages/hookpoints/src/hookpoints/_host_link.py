"""Where the registries find the plugin host: set by ``hookpoints/__init__.py`` at import.

The registries sit below every layer, the plugin host above every layer (see
ARCHITECTURE.md); the root package connects the two through this slot, which imports
nothing, so that ``import hookpoints`` builds no registry and loads no plugin.
"""

from __future__ import annotations

from typing import Any

#: An object with ``generation``, ``load_errors`` and ``contributions(hook_name, type)``
#: (:class:`hookpoints.registries.ContributionSource`); None until hookpoints is imported.
contribution_source: Any = None
