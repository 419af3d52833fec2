"""The core's own contributions, registered through the same hookspecs as any plugin.

Like tox and sqlfluff, the core is its first plugin: the identity conversion, and the
``text`` and ``json`` reporters that need nothing beyond the core.
"""

from __future__ import annotations

from collections.abc import Iterator

from .conversion import IdentityConversion
from .descriptors import AliasScheme, ConversionStep, Reporter
from .hookspecs import hookimpl


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield ConversionStep("identity", "the activation itself (a no-op view)", IdentityConversion)


@hookimpl
def hookpoints_alias_schemes() -> Iterator[AliasScheme]:
    return iter(())


@hookimpl
def hookpoints_reporters() -> Iterator[Reporter]:
    from .reporting import JsonReporter, TextReporter

    yield Reporter("text", "plain-text table of hook points, captures and hooks", TextReporter, priority=0)
    yield Reporter("json", "machine-readable JSON (schema hookpoints.report/1)", JsonReporter, priority=-10)
