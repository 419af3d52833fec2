"""Reading captures and single caches back, lazily and without pickle.

``open_capture(path)`` checks the manifest and every shard's size and header against it,
then memory-maps shards on demand (``safetensors.safe_open``): asking for one point reads
only that point's bytes. ``verify()`` also checks CRC-32s (reads everything).
"""

from __future__ import annotations

import ctypes
import errno
import json
import zlib
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from hookpoints import ActivationCache

from .errors import CorruptCaptureError, IncompleteCaptureError
from .manifest import FORMAT, MANIFEST, read_manifest, shard_path


def _open(path: Path) -> Any:
    try:
        return safe_open(str(path), framework="pt")
    except Exception as exc:
        raise CorruptCaptureError(f"{path}: not a readable safetensors file ({exc})") from None


def tensor_crc32(tensor: Tensor) -> int:
    """CRC-32 of a CPU tensor's bytes, read in place (no copy)."""
    tensor = tensor.contiguous()
    size = tensor.numel() * tensor.element_size()
    if size == 0:
        return 0
    return zlib.crc32((ctypes.c_char * size).from_address(tensor.data_ptr()))


def check_shard(folder: Path, shard: dict[str, Any], verify_crc: bool) -> None:
    """Raise :class:`CorruptCaptureError` naming the file if a shard disagrees with the manifest."""
    path = shard_path(folder, shard)
    if not path.exists():
        raise CorruptCaptureError(f"{path}: listed in {folder / MANIFEST} but missing")
    size = path.stat().st_size
    if size != shard["bytes"]:
        raise CorruptCaptureError(
            f"{path}: {size} bytes on disk, the manifest says {shard['bytes']} (truncated?)"
        )
    with _open(path) as handle:
        keys = set(handle.keys())
        expected = set(shard["tensors"])
        if keys != expected:
            raise CorruptCaptureError(
                f"{path}: holds tensors {sorted(keys - expected)[:3]} not in the manifest, or lacks "
                f"{sorted(expected - keys)[:3]}"
            )
        for key, entry in shard["tensors"].items():
            sl = handle.get_slice(key)
            shape, dtype = list(sl.get_shape()), _dtype_name(sl.get_dtype())
            if verify_crc and tensor_crc32(handle.get_tensor(key)) != entry["crc32"]:
                raise CorruptCaptureError(
                    f"{path}: contents of {key!r} do not match the manifest's checksum (corrupted)"
                )
            if shape != entry["shape"] or dtype != entry["dtype"]:
                raise CorruptCaptureError(
                    f"{path}: tensor {key!r} is {dtype}{shape}; "
                    f"the manifest says {entry['dtype']}{entry['shape']}"
                )


_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


def _dtype_name(dtype: str) -> str:
    return _SAFETENSORS_DTYPES.get(dtype, dtype.lower())


class CaptureReader:
    """A finished (or, with ``allow_incomplete``, interrupted) capture folder."""

    def __init__(self, path: str | Path, allow_incomplete: bool = False) -> None:
        self.folder = Path(path)
        self.manifest = read_manifest(self.folder)
        if not self.manifest["complete"] and not allow_incomplete:
            done = sorted(b for s in self.manifest["shards"] for b in s["batches"])
            raise IncompleteCaptureError(
                f"{self.folder / MANIFEST}: the capture was interrupted after batches "
                f"{done[-3:] if done else []} "
                "(resume it with SafetensorsSink(path, resume=True), or open with allow_incomplete=True)"
            )
        for shard in self.manifest["shards"]:
            check_shard(self.folder, shard, verify_crc=False)
        self._where: dict[str, list[tuple[int, str, str]]] = {}
        for shard in self.manifest["shards"]:
            for key, entry in shard["tensors"].items():
                self._where.setdefault(entry["point"], []).append((entry["batch"], shard["file"], key))
        for entries in self._where.values():
            entries.sort()

    @property
    def points(self) -> list[str]:
        return list(self.manifest["points"])

    @property
    def batches(self) -> list[int]:
        return sorted(b for shard in self.manifest["shards"] for b in shard["batches"])

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.manifest["metadata"])

    def verify(self) -> None:
        """Check every shard's CRC-32 against the manifest (reads all data)."""
        for shard in self.manifest["shards"]:
            check_shard(self.folder, shard, verify_crc=True)

    def tensors(self, point: str) -> list[Tensor]:
        """The point's activation of each batch, in batch order (memory-mapped)."""
        if point not in self._where:
            from hookpoints import HookNameError

            raise HookNameError(point, self._where, what="captured point")
        out = []
        for _, file, key in self._where[point]:
            with _open(self.folder / file) as handle:  # file was checked by shard_path at open
                out.append(handle.get_tensor(key))
        return out

    def tensor(self, point: str) -> Tensor:
        """The point's activations of all batches, concatenated along dim 0."""
        parts = self.tensors(point)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

    def cache(self) -> ActivationCache:
        """Every point, concatenated over batches, as an ActivationCache."""
        return ActivationCache({p: self.tensor(p) for p in self.points})

    def _repr_html_(self) -> str:
        """Jupyter's view: the folder, its batches, and one row per captured point."""
        from html import escape

        rows = "".join(
            f"<tr><td><code>{escape(point)}</code></td><td style='text-align:right'>"
            f"{len(self._where.get(point, []))}</td></tr>"
            for point in self.points
        )
        state = "complete" if self.manifest["complete"] else "interrupted"
        return (
            f"<table><caption style='text-align:left'>CaptureReader <code>{escape(str(self.folder))}</code>: "
            f"{len(self.points)} points, {len(self.batches)} batches ({state})</caption>"
            f"<thead><tr><th>point</th><th>batches</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    def __repr__(self) -> str:
        return f"CaptureReader({str(self.folder)!r}, {len(self.points)} points, {len(self.batches)} batches)"


def open_capture(path: str | Path, allow_incomplete: bool = False) -> CaptureReader:
    return CaptureReader(path, allow_incomplete=allow_incomplete)


_CACHE_FORMAT = "hookpoints.cache/1"


def _storage_key(tensor: Tensor) -> tuple[Any, ...]:
    return (
        tensor.untyped_storage().data_ptr(),
        tensor.storage_offset(),
        tensor.dtype,
        tensor.shape,
        tensor.stride(),
    )


def store_once(tensors: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors safetensors can write: ``(stored, aliases)``.

    safetensors refuses tensors that share memory, and one activation often sits in a cache
    under two names (``blocks.0.hook_resid_post`` is ``blocks.1.hook_resid_pre``). A tensor
    identical to one already stored (same memory, offset, shape, stride and dtype) is stored
    once and listed in ``aliases`` (name -> stored name); any other tensor sharing memory
    with a stored one (a view of part of it) is copied.
    """
    stored: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    exact: dict[tuple[Any, ...], str] = {}
    storages: set[int] = set()
    for name, tensor in tensors.items():
        if tensor.numel() == 0:
            stored[name] = tensor.clone()
            continue
        key = _storage_key(tensor)
        if key in exact:
            aliases[name] = exact[key]
            continue
        pointer = key[0]
        if pointer in storages:
            tensor = tensor.clone()  # part of, or overlapping, a tensor already stored
        else:
            storages.add(pointer)
        exact[key] = name
        stored[name] = tensor
    return stored, aliases


def save_cache(cache: ActivationCache, path: str | Path) -> Path:
    """Write one ActivationCache to a single safetensors file (names and flags in its metadata).

    Tensors sharing memory are stored once (see :func:`store_once`) and loaded back as one
    tensor under each name; a missing parent folder is created.
    """
    path = Path(path)
    bad = [name for name, t in cache.items() if not isinstance(t, Tensor)]
    if bad:
        raise TypeError(
            f"ActivationCache.save: {bad[0]!r} holds a {type(cache[bad[0]]).__name__}; "
            "only tensors can be saved"
        )
    moved = {name: t.detach().to("cpu").contiguous() for name, t in cache.items()}
    tensors, aliases = store_once(moved)
    meta = {
        "format": _CACHE_FORMAT,
        "names": json.dumps(list(moved)),
        "aliases": json.dumps(aliases),
        "has_batch_dim": str(cache.has_batch_dim),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def load_cache(path: str | Path) -> ActivationCache:
    """Read a file written by :func:`save_cache` (tensors load onto the CPU)."""
    path = Path(path)
    if not path.exists():  # a missing file is not a corrupt one
        raise FileNotFoundError(errno.ENOENT, "no saved activation cache here", str(path))
    with _open(path) as handle:
        meta = handle.metadata() or {}
    if meta.get("format") != _CACHE_FORMAT:
        raise CorruptCaptureError(f"{path}: not a hookpoints cache file (format {meta.get('format')!r})")
    try:
        tensors = load_file(str(path))
        names: list[str] = json.loads(meta["names"])
        aliases: dict[str, str] = json.loads(meta.get("aliases", "{}"))  # absent in files from before aliases
    except Exception as exc:
        raise CorruptCaptureError(f"{path}: cannot be read ({exc})") from None
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) for n in names)
        or not isinstance(aliases, dict)
        or not all(isinstance(a, str) and isinstance(b, str) for a, b in aliases.items())
    ):
        raise CorruptCaptureError(f"{path}: its metadata's names or aliases are malformed")
    if set(names) != set(tensors) | set(aliases) or not set(aliases.values()) <= set(tensors):
        raise CorruptCaptureError(f"{path}: its metadata lists other tensors than it holds")
    return ActivationCache(
        {n: tensors[aliases.get(n, n)] for n in names}, has_batch_dim=meta.get("has_batch_dim") == "True"
    )


__all__ = ["FORMAT", "CaptureReader", "check_shard", "load_cache", "open_capture", "save_cache", "store_once"]
