"""Entry point module: contributes the ``safetensors`` cache sink."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.descriptors import CacheSink


@hookimpl
def hookpoints_cache_sinks() -> Iterator[CacheSink]:
    from .sink import SafetensorsSink

    yield CacheSink(
        "safetensors",
        "sharded safetensors files + JSON manifest on disk; resumable; read back lazily",
        SafetensorsSink,
    )
