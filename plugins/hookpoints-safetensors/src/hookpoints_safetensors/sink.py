"""``SafetensorsSink``: write captured activations to sharded safetensors files.

Tensors are moved to CPU at ``write`` (contiguous, detached) and written when a shard is
full (``shard_mb`` megabytes, or ``shard_batches`` batches when given): large shards keep the
per-file costs (rename, manifest update) small next to the data. Shards and the manifest are
written atomically, the manifest last, so an interrupted capture leaves a consistent
folder: ``resume=True`` picks it up and ``capture`` skips the batches already on disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from .errors import CaptureError
from .manifest import FORMAT, MANIFEST, read_manifest, write_manifest
from .reader import CaptureReader, check_shard, store_once, tensor_crc32


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


class SafetensorsSink:
    """A cache sink writing ``<path>/shard-NNNNN.safetensors`` plus ``manifest.json``.

    Args:
        path: Capture folder (created if needed).
        shard_batches: Batches per shard file (default: as many as fit in ``shard_mb``).
        shard_mb: Size at which a shard is written (default 64 MB).
        resume: Continue an interrupted capture in ``path`` (its complete shards are kept and
            their batches skipped). Without it, an existing capture is an error unless
            ``overwrite`` is set.
        overwrite: Replace an existing capture in ``path``.
        metadata: JSON-serialisable information stored in the manifest (model, hooks, data).
        durable: fsync every shard and manifest before renaming it (survives power loss, not
            only a killed process; slower).
    """

    def __init__(
        self,
        path: str | Path,
        shard_batches: int | None = None,
        resume: bool = False,
        overwrite: bool = False,
        metadata: dict[str, Any] | None = None,
        durable: bool = False,
        shard_mb: float = 64.0,
    ) -> None:
        self.durable = durable
        if shard_batches is not None and shard_batches < 1:
            raise ValueError(f"shard_batches must be >= 1; got {shard_batches}")
        if shard_mb <= 0:
            raise ValueError(f"shard_mb must be > 0; got {shard_mb}")
        self.shard_bytes = int(shard_mb * 1e6)
        self._buffered = 0
        self.folder = Path(path)
        self.shard_batches = shard_batches
        self.folder.mkdir(parents=True, exist_ok=True)
        for stray in self.folder.glob(".*.tmp"):  # left by an interrupted write
            stray.unlink()
        existing = (self.folder / MANIFEST).exists()
        if existing and resume:
            self.manifest = read_manifest(self.folder)
            for shard in self.manifest["shards"]:
                check_shard(self.folder, shard, verify_crc=False)
            if metadata is not None and metadata != self.manifest["metadata"]:
                raise CaptureError(
                    f"{self.folder / MANIFEST}: resuming with different metadata than the capture was "
                    "started with"
                )
            self.manifest["complete"] = False
        elif existing and not overwrite:
            raise CaptureError(
                f"{self.folder} already holds a capture; pass resume=True to continue it or overwrite=True"
            )
        else:
            for old in self.folder.glob("shard-*.safetensors"):
                old.unlink()
            self.manifest = {
                "format": FORMAT,
                "complete": False,
                "metadata": metadata or {},
                "points": {},
                "shards": [],
            }
        write_manifest(self.folder, self.manifest)
        self.completed_batches = {b for shard in self.manifest["shards"] for b in shard["batches"]}
        self._tensors: dict[str, Tensor] = {}
        self._entries: dict[str, dict[str, Any]] = {}
        self._batches: list[int] = []

    def write(self, name: str, tensor: Tensor, *, batch: int) -> None:
        value = tensor.detach()
        if value.device.type != "cpu":
            value = value.to("cpu")
        value = value.contiguous()
        key = f"{batch}/{name}"
        self._tensors[key] = value
        self._buffered += value.numel() * value.element_size()
        self._entries[key] = {
            "point": name,
            "batch": batch,
            "shape": list(value.shape),
            "dtype": _dtype_name(value.dtype),
            "crc32": tensor_crc32(value),
        }
        dtype = _dtype_name(value.dtype)
        known = self.manifest["points"].setdefault(name, {"dtype": dtype, "shape": list(value.shape[1:])})
        if known["dtype"] != dtype:
            raise CaptureError(
                f"{self.folder}: point {name!r} changed dtype from {known['dtype']} to {dtype}"
            )
        if known["shape"] is not None and known["shape"] != list(value.shape[1:]):
            known["shape"] = None  # varies across batches (e.g. sequence length)

    def end_batch(self, batch: int) -> None:
        if batch not in self._batches:
            self._batches.append(batch)
        full = self._buffered >= self.shard_bytes
        if full or (self.shard_batches is not None and len(self._batches) >= self.shard_batches):
            self._flush()

    def _flush(self) -> None:
        if not self._tensors:
            self._batches = []
            return
        index = len(self.manifest["shards"])
        name = f"shard-{index:05d}.safetensors"
        tmp = self.folder / f".{name}.tmp"
        tensors, aliases = store_once(self._tensors)  # safetensors refuses shared memory
        for key, stored in aliases.items():
            tensors[key] = tensors[stored].clone()  # each key is its own tensor in a shard
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
        if self.durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, self.folder / name)  # a shard is whole before it has its name
        self.manifest["shards"].append(
            {
                "file": name,
                "bytes": (self.folder / name).stat().st_size,
                "batches": list(self._batches),
                "tensors": self._entries,
            }
        )
        write_manifest(self.folder, self.manifest, self.durable)  # last: only whole shards are listed
        self.completed_batches.update(self._batches)
        self._tensors, self._entries, self._batches, self._buffered = {}, {}, [], 0

    def finalize(self) -> CaptureReader:
        self._flush()
        self.manifest["complete"] = True
        write_manifest(self.folder, self.manifest)
        return CaptureReader(self.folder)
