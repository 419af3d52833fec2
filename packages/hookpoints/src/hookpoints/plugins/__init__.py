"""Everything a plugin author needs, and the plugin host.

A plugin is a module with ``@hookimpl`` functions named after the hookspecs
(:mod:`hookpoints.plugins.hookspecs`), listed under ``[project.entry-points.hookpoints]``.
This package is the public line for plugins: they import from ``hookpoints``,
``hookpoints.plugins``, ``hookpoints.testing`` (conformance kits) and ``hookpoints.examples``
only; every other module of hookpoints is private and may change.

===========================  ================================================================
names                        what for
===========================  ================================================================
``hookimpl``                 mark a hook implementation
``ConversionStep`` ...       the descriptors a hook yields (:mod:`hookpoints.extension_points`)
``HookReport`` ...           the data a reporter renders; ``format_number``, ``format_bytes``
``BaseTensorConversion`` ..  base classes for conversion steps
``conversion_steps`` ...     the registries, to look contributions up by name
``register`` ...             in-process plugins (notebooks, tests), reloading, load errors
``lazy_exports``             a package namespace that imports its modules on first use
``running_point``            the hook point whose dispatch is running (for error messages)
===========================  ================================================================

The host (``host``) loads entry points on the first registry use, never on import, and
isolates each plugin: a broken one is recorded and skipped (``hookpoints plugins``).
"""

from __future__ import annotations

from ..conversions.base import (
    BaseTensorConversion,
    ChainConversion,
    IdentityConversion,
    TensorConversion,
    revert_accepts_original,
)
from ..core.cache import format_bytes
from ..core.stack import running_point
from ..errors import ContributionError, DuplicateNameError, PluginError, PluginWarning, UnknownNameError
from ..extension_points import (
    ActivationSink,
    AliasRule,
    AliasScheme,
    CacheFormat,
    CacheSink,
    ConversionStep,
    HookReporter,
    Reporter,
)
from ..registries import (
    ALIASES,
    CACHE_FORMATS,
    CONVERSIONS,
    REPORTERS,
    SINKS,
    Contribution,
    Provenance,
    Registry,
)
from ..reports.data import (
    ActivationStats,
    CacheComparison,
    HookInfo,
    HookReport,
    PointDiff,
    PointReport,
)
from ..reports.render import format_number
from .hookspecs import hookimpl, hookspec
from .lazy import lazy_exports

# The registries, by the extension point they serve.
conversion_steps = CONVERSIONS
alias_schemes = ALIASES
reporters = REPORTERS
cache_sinks = SINKS
cache_formats = CACHE_FORMATS

from .host import (  # noqa: E402
    HOST,
    PluginHost,
    PluginInfo,
    PluginLoadError,
    load_errors,
    plugin_infos,
    refresh,
    register,
    unregister,
)

__all__ = [
    "HOST",
    "ActivationSink",
    "ActivationStats",
    "AliasRule",
    "AliasScheme",
    "BaseTensorConversion",
    "CacheComparison",
    "CacheFormat",
    "CacheSink",
    "ChainConversion",
    "Contribution",
    "ContributionError",
    "ConversionStep",
    "DuplicateNameError",
    "HookInfo",
    "HookReport",
    "HookReporter",
    "IdentityConversion",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "PluginLoadError",
    "PluginWarning",
    "PointDiff",
    "PointReport",
    "Provenance",
    "Registry",
    "Reporter",
    "TensorConversion",
    "UnknownNameError",
    "alias_schemes",
    "cache_formats",
    "cache_sinks",
    "conversion_steps",
    "format_bytes",
    "format_number",
    "hookimpl",
    "hookspec",
    "lazy_exports",
    "load_errors",
    "plugin_infos",
    "refresh",
    "register",
    "reporters",
    "revert_accepts_original",
    "running_point",
    "unregister",
]
