"""The JSON manifest of a capture folder, written atomically and last.

Layout of a capture folder::

    manifest.json                  {"format", "complete", "metadata", "points", "shards": [...]}
    shard-00000.safetensors        tensors keyed "<batch>/<point>", one or more batches each
    shard-00001.safetensors

Each shard entry records its file name, size, CRC-32, batches and per-tensor point, batch,
shape and dtype. A shard is written to a temporary name and renamed into place, then the
manifest is rewritten (also temp + rename): whatever is on disk after an interruption is a
valid manifest describing complete shards only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import CorruptCaptureError, UnsafeCaptureError

FORMAT = "hookpoints.safetensors/1"
MANIFEST = "manifest.json"


def atomic_write(path: Path, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no torn files).

    The rename alone makes a killed process leave either the old or the new file. With
    ``durable`` the data is also fsync'ed first, which is what survives a power cut.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_manifest(folder: Path, manifest: dict[str, Any], durable: bool = False) -> None:
    atomic_write(folder / MANIFEST, json.dumps(manifest, separators=(",", ":")).encode(), durable)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CorruptCaptureError(f"{path}: no manifest; is {folder} a hookpoints capture?") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCaptureError(f"{path}: the manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CorruptCaptureError(f"{path}: expected format {FORMAT!r}, found {found!r}")
    for key, kind in (("complete", bool), ("points", dict), ("shards", list), ("metadata", dict)):
        if not isinstance(manifest.get(key), kind):
            raise CorruptCaptureError(f"{path}: field {key!r} is missing or not a {kind.__name__}")
    for index, shard in enumerate(manifest["shards"]):
        for key, kinds in (("file", (str,)), ("bytes", (int,)), ("batches", (list,)), ("tensors", (dict,))):
            if not isinstance(shard, dict) or not isinstance(shard.get(key), kinds):
                raise CorruptCaptureError(f"{path}: shard {index} has no valid {key!r} field")
        shard_path(folder, shard)
    return manifest


def shard_path(folder: Path, shard: dict[str, Any]) -> Path:
    """The shard's file inside ``folder``; a name reaching outside it is refused, never followed.

    A manifest may only name plain file names in its own folder: not ``../x``, not an absolute
    path, not a sub-folder, and not a link leading out of the folder.
    """
    file = shard.get("file")
    if (
        not isinstance(file, str)
        or not file
        or file in (".", "..")
        or "/" in file
        or "\\" in file
        or "\0" in file
        or Path(file).is_absolute()
    ):
        raise UnsafeCaptureError(
            f"{folder / MANIFEST}: shard file {file!r} is not a plain file name in the capture folder; "
            "refusing to read outside it (expected a name like 'shard-00000.safetensors')"
        )
    path = folder / file
    if path.is_symlink() and path.resolve().parent != folder.resolve():
        raise UnsafeCaptureError(
            f"{folder / MANIFEST}: shard file {file!r} is a link to {path.resolve()}, outside the capture "
            "folder; refusing to follow it"
        )
    return path
