"""The safetensors sink: round trip, resume after interruption, corruption errors, no pickle."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hookpoints_safetensors import (
    CaptureError,
    CorruptCaptureError,
    IncompleteCaptureError,
    SafetensorsSink,
    open_capture,
)

import hookpoints
from hookpoints import ActivationCache, capture, iter_batches
from hookpoints.examples import TinyGPT
from hookpoints.testing import SMALL_GPT, check_cache_sink, small_gpt

NAMES = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.1.attn.hook_pattern"]


@pytest.fixture
def model() -> TinyGPT:
    return small_gpt()


@pytest.fixture
def data() -> torch.Tensor:
    return torch.randint(0, SMALL_GPT.d_vocab, (10, 6), generator=torch.Generator().manual_seed(0))


def test_registered_through_entry_point() -> None:
    assert hookpoints.capturing.sinks.source("safetensors").distribution == "hookpoints-safetensors"


def test_conforms(tmp_path: Path) -> None:
    reader = check_cache_sink("safetensors", {"path": tmp_path / "c"})
    assert reader.batches == [0, 1, 2] and reader.points == ["hook_in", "hook_out"]


@pytest.mark.parametrize("shard_batches", [1, 2, 5])
def test_round_trip_equals_memory_sink(
    model: TinyGPT, data: torch.Tensor, tmp_path: Path, shard_batches: int
) -> None:
    memory = capture(model, iter_batches(data, 3), NAMES)
    reader = capture(
        model,
        iter_batches(data, 3),
        NAMES,
        "safetensors",
        path=tmp_path,
        shard_batches=shard_batches,
        metadata={"model": "TinyGPT", "seed": 0},
    )
    assert reader.batches == [0, 1, 2, 3] and reader.metadata == {"model": "TinyGPT", "seed": 0}
    assert len(list(tmp_path.glob("shard-*.safetensors"))) == -(-4 // shard_batches)
    one_shard = capture(model, iter_batches(data, 3), NAMES, "safetensors", path=tmp_path / "big")
    assert len(one_shard.manifest["shards"]) == 1  # default: shards of up to 64 MB
    assert torch.equal(one_shard.tensor(NAMES[0]), memory[NAMES[0]])
    cache = reader.cache()
    for name in NAMES:
        assert torch.equal(cache[name], memory[name]), name
    assert [t.shape[0] for t in reader.tensors(NAMES[0])] == [3, 3, 3, 1]
    reader.verify()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["complete"] and manifest["points"][NAMES[0]] == {"dtype": "float32", "shape": [6, 32]}


def test_existing_capture_needs_resume_or_overwrite(
    model: TinyGPT, data: torch.Tensor, tmp_path: Path
) -> None:
    capture(model, [data], NAMES, "safetensors", path=tmp_path)
    with pytest.raises(CaptureError, match="already holds a capture; pass resume=True"):
        SafetensorsSink(tmp_path)
    capture(model, [data[:2]], NAMES, "safetensors", path=tmp_path, overwrite=True)
    assert open_capture(tmp_path).tensor(NAMES[0]).shape[0] == 2


class Interrupted(Exception):
    pass


def test_resume_after_interruption(model: TinyGPT, data: torch.Tensor, tmp_path: Path) -> None:
    batches = list(iter_batches(data, 2))  # 5 batches
    ran: list[int] = []

    def dies_at_batch_3(m: TinyGPT, batch: torch.Tensor) -> None:
        if len(ran) == 3:
            raise Interrupted
        ran.append(batch.shape[0])
        m(batch)

    with pytest.raises(Interrupted):
        capture(model, batches, NAMES, "safetensors", path=tmp_path, shard_batches=1, forward=dies_at_batch_3)
    with pytest.raises(IncompleteCaptureError, match="interrupted after batches \\[0, 1, 2\\]"):
        open_capture(tmp_path)
    assert open_capture(tmp_path, allow_incomplete=True).batches == [0, 1, 2]
    (tmp_path / ".shard-00003.safetensors.tmp").write_bytes(b"half a shard")  # a torn write

    resumed: list[int] = []
    reader = capture(
        model,
        batches,
        NAMES,
        "safetensors",
        path=tmp_path,
        resume=True,
        forward=lambda m, b: (resumed.append(1), m(b)),
    )
    assert len(resumed) == 2  # only batches 3 and 4 ran again
    assert not list(tmp_path.glob(".*.tmp"))
    memory = capture(model, batches, NAMES)
    for name in NAMES:
        assert torch.equal(reader.tensor(name), memory[name])


def test_resume_after_the_process_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, torch, hookpoints
        from hookpoints.testing import small_gpt
        model = small_gpt()
        data = torch.randint(0, 50, (8, 6), generator=torch.Generator().manual_seed(0))
        seen = []
        def killer(m, batch):
            if len(seen) == 2:
                os._exit(9)  # no cleanup, no finally: like SIGKILL between shards
            seen.append(1)
            m(batch)
        hookpoints.capture(model, list(data.split(2)), {NAMES!r}, "safetensors", path={str(tmp_path)!r}, shard_batches=1, forward=killer)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 9, result.stderr
    assert open_capture(tmp_path, allow_incomplete=True).batches == [0, 1]
    model = small_gpt()
    data = torch.randint(0, 50, (8, 6), generator=torch.Generator().manual_seed(0))
    reader = capture(model, list(data.split(2)), NAMES, "safetensors", path=tmp_path, resume=True)
    assert reader.batches == [0, 1, 2, 3]
    assert torch.equal(reader.tensor(NAMES[1]), capture(model, list(data.split(2)), NAMES)[NAMES[1]])


@pytest.fixture
def finished(model: TinyGPT, data: torch.Tensor, tmp_path: Path) -> Path:
    capture(model, iter_batches(data, 5), NAMES, "safetensors", path=tmp_path, shard_batches=1)
    return tmp_path


def test_truncated_shard_is_named(finished: Path) -> None:
    shard = finished / "shard-00001.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(CorruptCaptureError, match=r"shard-00001\.safetensors: \d+ bytes on disk.*truncated"):
        open_capture(finished)


def test_corrupted_header_is_named(finished: Path) -> None:
    shard = finished / "shard-00000.safetensors"
    raw = bytearray(shard.read_bytes())
    raw[10:20] = b"\xff" * 10
    shard.write_bytes(bytes(raw))
    with pytest.raises(
        CorruptCaptureError, match=r"shard-00000\.safetensors: not a readable safetensors file"
    ):
        open_capture(finished)


def test_corrupted_data_is_caught_by_verify(finished: Path) -> None:
    shard = finished / "shard-00000.safetensors"
    raw = bytearray(shard.read_bytes())
    raw[-8:] = bytes(8)
    shard.write_bytes(bytes(raw))
    reader = open_capture(finished)  # sizes and headers still agree
    with pytest.raises(CorruptCaptureError, match=r"shard-00000\.safetensors: contents of .* do not match"):
        reader.verify()


def test_manifest_shard_mismatch_is_named(finished: Path) -> None:
    manifest = json.loads((finished / "manifest.json").read_text())
    key = next(iter(manifest["shards"][0]["tensors"]))
    manifest["shards"][0]["tensors"][key]["shape"][0] = 99
    (finished / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptCaptureError, match=r"shard-00000\.safetensors: tensor .* the manifest says"):
        open_capture(finished)


def test_broken_manifest_is_named(finished: Path) -> None:
    (finished / "manifest.json").write_text("{not json")
    with pytest.raises(CorruptCaptureError, match=r"manifest\.json: the manifest is not valid JSON"):
        open_capture(finished)
    (finished / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CorruptCaptureError, match="expected format 'hookpoints.safetensors/1'"):
        open_capture(finished)


def test_missing_shard_is_named(finished: Path) -> None:
    (finished / "shard-00001.safetensors").unlink()
    with pytest.raises(CorruptCaptureError, match=r"shard-00001\.safetensors: listed in .* but missing"):
        open_capture(finished)


def test_unknown_point(finished: Path) -> None:
    with pytest.raises(KeyError, match="did you mean 'blocks.0.hook_resid_post'"):
        open_capture(finished).tensor("blocks.0.hook_resid_pots")


def test_activation_cache_save_load_round_trip(tmp_path: Path) -> None:
    cache = ActivationCache(
        {"b": torch.arange(6.0).reshape(1, 2, 3).to(torch.bfloat16), "a": torch.ones(1, 4, dtype=torch.int64)}
    )
    cache.remove_batch_dim()
    path = cache.save(tmp_path / "cache.safetensors")
    loaded = ActivationCache.load(path)
    assert list(loaded) == ["b", "a"] and not loaded.has_batch_dim
    assert torch.equal(loaded["b"], cache["b"]) and loaded["b"].dtype == torch.bfloat16
    (tmp_path / "other.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(CorruptCaptureError, match="other.safetensors"):
        ActivationCache.load(tmp_path / "other.safetensors")


def test_loading_never_unpickles(finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ActivationCache({"a": torch.ones(3)}).save(tmp_path / "c.safetensors")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle or torch.load was used to read captured data")

    for target, attr in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(target, attr, forbidden)
    reader = open_capture(finished)
    reader.verify()
    assert reader.cache()[NAMES[0]].shape == (10, 6, 32)
    assert ActivationCache.load(path)["a"].sum() == 3


def test_loading_a_missing_cache_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no saved activation cache"):
        hookpoints.ActivationCache.load(tmp_path / "missing.safetensors")
