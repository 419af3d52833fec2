"""Cache sinks by name (``hookpoints.capturing.sinks.create("reduce")``) and the core's own sinks.

Where captured activations go is an extension point: keep them in memory (the default, what
``run_with_cache`` always did), offload them to host memory without stalling the GPU,
reduce them to running statistics without keeping them, hand them to a callback, or (with
``hookpoints-safetensors``) write them to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ..core.cache import ActivationCache
from ..registries import SINKS

registry = SINKS
available = registry.available
get = registry.get
create = registry.create
source = registry.source

__all__ = [
    "CallbackSink",
    "CpuOffloadSink",
    "MemorySink",
    "ReduceSink",
    "RunningStats",
    "available",
    "create",
    "get",
    "registry",
    "source",
]


class MemorySink:
    """Keep every activation; ``finalize`` concatenates batches along dim 0 into an ActivationCache.

    A point that fires several times in one batch keeps its last value (as ``run_with_cache``).
    """

    def __init__(self) -> None:
        self._batches: dict[str, dict[int, Tensor]] = {}

    def write(self, name: str, tensor: Tensor, *, batch: int) -> None:
        self._batches.setdefault(name, {})[batch] = tensor.detach() if tensor.requires_grad else tensor

    def end_batch(self, batch: int) -> None:
        return None

    def _assemble(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for name, per_batch in self._batches.items():
            parts = [per_batch[b] for b in sorted(per_batch)]
            out[name] = parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
        return out

    def finalize(self) -> ActivationCache:
        return ActivationCache(self._assemble())


class CpuOffloadSink(MemorySink):
    """Offload CUDA activations to host memory without stalling the forward pass.

    Each activation is copied into a pinned staging buffer (reused across batches, two per
    shape and dtype) on a side CUDA stream, so the copy overlaps compute; the device tensor
    is released as soon as the copy is issued (``record_stream`` keeps the allocator from
    reusing it early). At ``end_batch`` the staged copies are waited for and moved into the
    result. CPU tensors need no copy: on a CPU-only machine this is the memory sink.
    """

    def __init__(self, pin_memory: bool = True) -> None:
        super().__init__()
        self.pin_memory = pin_memory
        self._stream: Any = None
        self._pool: dict[tuple[tuple[int, ...], torch.dtype], list[Tensor]] = {}
        self._pending: list[tuple[Any, Tensor, str, int]] = []

    def _staging(self, tensor: Tensor) -> Tensor:
        key = (tuple(tensor.shape), tensor.dtype)
        free = self._pool.setdefault(key, [])
        if free:
            return free.pop()
        return torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=self.pin_memory)

    def write(self, name: str, tensor: Tensor, *, batch: int) -> None:
        if not tensor.is_cuda:
            super().write(name, tensor, batch=batch)
            return
        if self._stream is None:
            self._stream = torch.cuda.Stream(device=tensor.device)  # type: ignore[no-untyped-call]
        staging = self._staging(tensor)
        source = tensor.detach()
        self._stream.wait_stream(torch.cuda.current_stream(tensor.device))
        with torch.cuda.stream(self._stream):
            staging.copy_(source, non_blocking=True)
            source.record_stream(self._stream)
            done = torch.cuda.Event()  # type: ignore[no-untyped-call]
            done.record(self._stream)
        self._pending.append((done, staging, name, batch))

    def end_batch(self, batch: int) -> None:
        pending, self._pending = self._pending, []
        for done, staging, name, index in pending:
            done.synchronize()
            self._batches.setdefault(name, {})[index] = staging.clone()  # pageable copy; staging is reused
            self._pool[(tuple(staging.shape), staging.dtype)].append(staging)

    def finalize(self) -> ActivationCache:
        if self._pending:
            self.end_batch(-1)
        return super().finalize()


class RunningStats:
    """Exact streaming mean / variance / min / max (Chan et al.'s parallel merge, in float64)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: Tensor | None = None
        self.m2: Tensor | None = None
        self.min: Tensor | None = None
        self.max: Tensor | None = None

    def update(self, values: Tensor, dims: Sequence[int]) -> None:
        """Absorb ``values`` reduced over ``dims`` (leading dimensions, e.g. batch and position)."""
        lead = len(dims)
        if sorted(d % values.ndim for d in dims) != list(range(lead)):
            raise ValueError(f"reduce sink: can only reduce leading dimensions, not {list(dims)}")
        x = values.detach().reshape(-1, *values.shape[lead:]).to(torch.float64)
        n = x.shape[0]
        # Plain reductions: on the CPU they are several times faster than var_mean / aminmax.
        batch_mean = x.mean(dim=0)
        batch_m2 = (x - batch_mean).square_().sum(dim=0)
        batch_min, batch_max = x.amin(dim=0), x.amax(dim=0)
        if self.mean is None or self.m2 is None or self.min is None or self.max is None:
            self.count, self.mean, self.m2, self.min, self.max = n, batch_mean, batch_m2, batch_min, batch_max
            return
        if batch_mean.shape != self.mean.shape:
            raise ValueError(
                f"reduce sink: statistics of shape {tuple(self.mean.shape)} cannot absorb a batch giving "
                f"{tuple(batch_mean.shape)} (use per_position=False for varying sequence lengths)"
            )
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + batch_m2 + delta.square() * (self.count * n / total)
        self.min = torch.minimum(self.min, batch_min)
        self.max = torch.maximum(self.max, batch_max)
        self.count = total

    @property
    def var(self) -> Tensor:
        """Population variance (divide by count)."""
        if self.m2 is None:
            raise ValueError("no values were seen")
        return self.m2 / self.count

    @property
    def std(self) -> Tensor:
        return self.var.sqrt()

    def as_dict(self) -> dict[str, Tensor]:
        if self.mean is None or self.min is None or self.max is None:
            raise ValueError("no values were seen")
        return {"mean": self.mean, "var": self.var, "std": self.std, "min": self.min, "max": self.max}


class ReduceSink:
    """Running statistics per point, computed in the hook; no activation is kept.

    By default statistics are per feature (reduced over every dimension but the last); with
    ``per_position=True`` over the batch dimension only (``[pos, ..., d]`` statistics).
    Accumulation is in float64 with an exact parallel merge, so results match statistics of
    the concatenated activations to float64 rounding. ``finalize`` returns
    ``{point: {"mean", "var", "std", "min", "max", "count"}}``.
    """

    def __init__(self, per_position: bool = False) -> None:
        self.per_position = per_position
        self.stats: dict[str, RunningStats] = {}

    def write(self, name: str, tensor: Tensor, *, batch: int) -> None:
        dims = [0] if self.per_position else list(range(tensor.ndim - 1))
        if not dims:
            dims = [0]
        self.stats.setdefault(name, RunningStats()).update(tensor, dims)

    def end_batch(self, batch: int) -> None:
        return None

    def finalize(self) -> dict[str, dict[str, Any]]:
        return {name: {**s.as_dict(), "count": s.count} for name, s in self.stats.items()}


class CallbackSink:
    """Call ``fn(name, tensor, batch)`` for every captured activation; ``finalize`` returns None."""

    def __init__(self, fn: Callable[[str, Tensor, int], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"callback sink needs fn(name, tensor, batch); got {type(fn).__name__}")
        self.fn = fn

    def write(self, name: str, tensor: Tensor, *, batch: int) -> None:
        self.fn(name, tensor, batch)

    def end_batch(self, batch: int) -> None:
        return None

    def finalize(self) -> None:
        return None
