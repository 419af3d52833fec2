"""Entry point module: contributes the ``safetensors`` cache sink and cache format."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import CacheFormat, CacheSink


@hookimpl
def hookpoints_cache_sinks() -> Iterator[CacheSink]:
    yield CacheSink(
        "safetensors",
        "sharded safetensors files + JSON manifest on disk; resumable; read back lazily",
        "hookpoints_safetensors.sink:SafetensorsSink",  # safetensors is imported when it is built
    )


@hookimpl
def hookpoints_cache_formats() -> Iterator[CacheFormat]:
    yield CacheFormat(
        "safetensors",
        "one safetensors file per cache, names and flags in its metadata",
        "hookpoints_safetensors.reader:save_cache",
        "hookpoints_safetensors.reader:load_cache",
        suffixes=(".safetensors",),
    )
