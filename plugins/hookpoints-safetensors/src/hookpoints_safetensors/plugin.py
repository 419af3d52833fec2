"""Entry point module: contributes the ``safetensors`` cache sink and cache format."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import CacheFormat, CacheSink


@hookimpl
def hookpoints_cache_sinks() -> Iterator[CacheSink]:
    from .sink import SafetensorsSink

    yield CacheSink(
        "safetensors",
        "sharded safetensors files + JSON manifest on disk; resumable; read back lazily",
        SafetensorsSink,
    )


@hookimpl
def hookpoints_cache_formats() -> Iterator[CacheFormat]:
    from .reader import load_cache, save_cache

    yield CacheFormat(
        "safetensors",
        "one safetensors file per cache, names and flags in its metadata",
        save_cache,
        load_cache,
        suffixes=(".safetensors",),
    )
