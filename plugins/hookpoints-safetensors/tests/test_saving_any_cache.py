"""Any cache saves (shared memory stored once, views copied), into a folder it creates; loading
stays inside the capture folder and never unpickles."""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from hookpoints_safetensors import CorruptCaptureError, UnsafeCaptureError, open_capture
from torch import Tensor, nn

import hookpoints
import hookpoints.examples
from hookpoints import ActivationCache


def _example_models() -> list[tuple[str, nn.Module, Tensor]]:
    """Every model class hookpoints.examples exports, built small, with an input."""
    found = []
    for name in hookpoints.examples.__all__:
        cls = getattr(hookpoints.examples, name)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            config_cls = getattr(hookpoints.examples, f"{name}Config")
            config = config_cls(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, d_vocab=50, n_ctx=8)
            model = cls(config)
            found.append(
                (name, model, torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(0)))
            )
    return found


EXAMPLES = _example_models()


def test_there_are_example_models() -> None:
    assert "TinyGPT" in [name for name, _, _ in EXAMPLES]  # every exported model is parametrized below


@pytest.mark.parametrize(("name", "model", "tokens"), EXAMPLES, ids=[n for n, _, _ in EXAMPLES])
@pytest.mark.parametrize("incl_bwd", [False, True], ids=["fwd", "fwd+grad"])
def test_an_unfiltered_cache_of_every_example_model_round_trips(
    tmp_path: Path, name: str, model: nn.Module, tokens: Tensor, incl_bwd: bool
) -> None:
    _, cache = model.run_with_cache(tokens)
    if incl_bwd:  # gradients too, as run_with_cache(incl_bwd=True) names them
        with model.hooks(
            bwd_hooks=[(lambda n: True, lambda g, hook: cache.__setitem__(f"{hook.name}_grad", g))]
        ):
            model(tokens).float().pow(2).mean().backward()
    shared = [
        (a, b)
        for a in cache
        for b in cache
        if a < b and cache[a].untyped_storage().data_ptr() == cache[b].untyped_storage().data_ptr()
    ]
    assert shared, "the unfiltered cache holds tensors sharing memory (what safetensors refuses)"
    path = cache.save(tmp_path / "missing" / "folders" / f"{name}.safetensors")  # folders are created
    loaded = ActivationCache.load(path)
    assert list(loaded) == list(cache)
    for key in cache:
        assert loaded[key].dtype == cache[key].dtype and torch.equal(loaded[key], cache[key]), key
    assert loaded.has_batch_dim == cache.has_batch_dim
    for a, b in shared:
        if cache[a] is cache[b]:
            assert loaded[a] is loaded[b]  # stored once, one tensor again


def test_views_of_one_tensor_are_copied_and_identical_ones_stored_once(tmp_path: Path) -> None:
    base = torch.arange(24.0).reshape(2, 3, 4)
    cache = ActivationCache(
        {"whole": base, "same": base, "first": base[:, 0], "strided": base[..., ::2], "alone": torch.ones(3)}
    )
    loaded = ActivationCache.load(cache.save(tmp_path / "views.safetensors"))
    assert list(loaded) == list(cache)
    assert all(torch.equal(loaded[k], cache[k]) for k in cache)
    assert loaded["same"] is loaded["whole"]


def test_a_capture_of_every_point_to_disk_equals_the_memory_capture(tmp_path: Path) -> None:
    (_, model, tokens) = EXAMPLES[0]
    batches = [tokens, tokens.flip(0)]
    reader = hookpoints.capture(model, batches, sink="safetensors", path=tmp_path / "cap")
    in_memory = hookpoints.capture(model, batches)
    assert reader.points == list(in_memory)
    on_disk = reader.cache()
    assert all(torch.equal(on_disk[k], in_memory[k]) for k in in_memory)


def _capture(tmp_path: Path) -> Path:
    (_, model, tokens) = EXAMPLES[0]
    folder = tmp_path / "cap"
    hookpoints.capture(model, [tokens], names_filter=["hook_embed"], sink="safetensors", path=folder)
    return folder


@pytest.mark.parametrize(
    "file",
    ["../outside.safetensors", "/etc/passwd", "sub/shard-00000.safetensors", "..", "", "a\\b"],
    ids=["parent", "absolute", "subfolder", "dotdot", "empty", "backslash"],
)
def test_a_manifest_naming_a_file_outside_the_folder_is_refused(tmp_path: Path, file: str) -> None:
    folder = _capture(tmp_path)
    outside = tmp_path / "outside.safetensors"
    (folder / "shard-00000.safetensors").rename(outside)  # a real shard, where the manifest points
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][0]["file"] = file
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        UnsafeCaptureError, match=rf"shard file {re.escape(repr(file))}.*refusing to read outside it"
    ) as caught:
        open_capture(folder)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, CorruptCaptureError)


def test_a_shard_linking_outside_the_folder_is_not_followed(tmp_path: Path) -> None:
    folder = _capture(tmp_path)
    shard = folder / "shard-00000.safetensors"
    outside = tmp_path / "elsewhere.safetensors"
    shard.rename(outside)
    os.symlink(outside, shard)
    with pytest.raises(
        UnsafeCaptureError, match=r"is a link to .*elsewhere.safetensors, outside the capture"
    ):
        open_capture(folder)


def test_a_malformed_shard_entry_is_a_corrupt_capture(tmp_path: Path) -> None:
    folder = _capture(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][0]["bytes"] = "many"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptCaptureError, match="shard 0 has no valid 'bytes' field"):
        open_capture(folder)


class _Trap:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("import os; os.environ['HOOKPOINTS_TEST_UNPICKLED'] = '1'",))  # runs if unpickled


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPOINTS_TEST_UNPICKLED", raising=False)
    path = tmp_path / "cache.safetensors"
    path.write_bytes(pickle.dumps({"hook_embed": _Trap()}))
    with pytest.raises(CorruptCaptureError):
        ActivationCache.load(path)
    folder = _capture(tmp_path)
    (folder / "shard-00000.safetensors").write_bytes(pickle.dumps(_Trap()))
    with pytest.raises(CorruptCaptureError):
        open_capture(folder).cache()
    assert "HOOKPOINTS_TEST_UNPICKLED" not in os.environ
