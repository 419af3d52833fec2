"""The core's own contributions, registered through the same hookspecs as any plugin.

Like tox and sqlfluff, the core is its first plugin: the identity conversion, and the
``text`` and ``json`` reporters that need nothing beyond the core.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..conversions.base import IdentityConversion
from ..extension_points import AliasScheme, CacheSink, ConversionStep, Reporter
from .hookspecs import hookimpl


@hookimpl
def hookpoints_conversion_steps() -> Iterator[ConversionStep]:
    yield ConversionStep("identity", "the activation itself (a no-op view)", IdentityConversion)


@hookimpl
def hookpoints_alias_schemes() -> Iterator[AliasScheme]:
    return iter(())


@hookimpl
def hookpoints_reporters() -> Iterator[Reporter]:
    from ..reports.render import JsonReporter, TextReporter

    yield Reporter("text", "plain-text table of hook points, captures and hooks", TextReporter, priority=0)
    yield Reporter("json", "machine-readable JSON (schema hookpoints.report/1)", JsonReporter, priority=-10)


@hookimpl
def hookpoints_cache_sinks() -> Iterator[CacheSink]:
    from ..capturing.sinks import CallbackSink, CpuOffloadSink, MemorySink, ReduceSink

    yield CacheSink("memory", "keep activations in memory (run_with_cache's default)", MemorySink)
    yield CacheSink("cpu", "offload CUDA activations to pinned host memory on a side stream", CpuOffloadSink)
    yield CacheSink("reduce", "running mean/var/min/max per point, nothing kept", ReduceSink)
    yield CacheSink("callback", "call fn(name, tensor, batch) for every activation", CallbackSink)
