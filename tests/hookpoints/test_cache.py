"""run_with_cache and ActivationCache."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import torch

from hookpoints import ActivationCache, HookNameError
from hookpoints.examples import TinyGPT

from .conftest import Toy


def raw_torch_cache(model: TinyGPT, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    cache: dict[str, torch.Tensor] = {}
    handles = [
        hp.register_forward_hook(lambda m, i, o, name=name: cache.__setitem__(name, o.detach()))
        for name, hp in model.hook_dict.items()
    ]
    with torch.no_grad():
        model(tokens)
    for h in handles:
        h.remove()
    return cache


def test_run_with_cache_matches_raw_torch_hooks(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    expected = raw_torch_cache(gpt, tokens)
    with torch.no_grad():
        out, cache = gpt.run_with_cache(tokens)
    assert isinstance(cache, ActivationCache) and list(cache) == list(expected)
    for name in expected:
        assert torch.equal(cache[name], expected[name]), name
    assert torch.equal(out, gpt(tokens).detach())
    assert sum(len(hp.fwd_hooks) for hp in gpt.hook_points()) == 0


@pytest.mark.parametrize(
    "names_filter",
    [
        "blocks.0.hook_resid_post",
        ["blocks.0.hook_resid_post"],
        ("blocks.0.hook_resid_post",),
        {"blocks.0.hook_resid_post"},
        lambda n: n == "blocks.0.hook_resid_post",
    ],
)
def test_names_filter_forms(gpt: TinyGPT, tokens: torch.Tensor, names_filter: object) -> None:
    _, cache = gpt.run_with_cache(tokens, names_filter=names_filter)  # type: ignore[arg-type]
    assert list(cache) == ["blocks.0.hook_resid_post"]


def test_unknown_name_in_names_filter_raises(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    with pytest.raises(HookNameError, match="blocks.0.hook_resid_post"):
        gpt.run_with_cache(tokens, names_filter=["blocks.0.hook_resid_pots"])


def test_cached_tensors_are_detached(toy: Toy) -> None:
    _, cache = toy.run_with_cache(torch.ones(1, 3))
    assert all(not t.requires_grad for t in cache.values())


def test_device_moves_cache_not_model(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    _, cache = gpt.run_with_cache(tokens, device="meta", names_filter="hook_embed")
    assert cache["hook_embed"].device.type == "meta"
    assert all(p.device.type == "cpu" for p in gpt.parameters())


def test_remove_batch_dim(gpt: TinyGPT) -> None:
    toks = torch.arange(5)[None]
    _, cache = gpt.run_with_cache(toks, remove_batch_dim=True, names_filter="hook_embed")
    assert cache["hook_embed"].shape == (5, 32) and not cache.has_batch_dim


def test_pos_slice_uses_per_point_pos_dim(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    names = ["blocks.0.hook_resid_pre", "blocks.0.attn.hook_z"]
    _, full = gpt.run_with_cache(tokens, names_filter=names)
    _, last = gpt.run_with_cache(tokens, names_filter=names, pos_slice=-1)  # an int keeps the dim (TL)
    assert torch.equal(last["blocks.0.hook_resid_pre"], full["blocks.0.hook_resid_pre"][:, -1:])
    assert torch.equal(last["blocks.0.attn.hook_z"], full["blocks.0.attn.hook_z"][:, -1:])
    _, negative = gpt.run_with_cache(tokens, names_filter=names, pos_slice=[-1])
    assert torch.equal(negative["blocks.0.attn.hook_z"], full["blocks.0.attn.hook_z"][:, -1:])
    _, some = gpt.run_with_cache(tokens, names_filter=names, pos_slice=(1, 3))
    assert torch.equal(some["blocks.0.attn.hook_z"], full["blocks.0.attn.hook_z"][:, 1:3])
    _, picked = gpt.run_with_cache(tokens, names_filter=names, pos_slice=[0, 2])
    assert torch.equal(picked["blocks.0.hook_resid_pre"], full["blocks.0.hook_resid_pre"][:, [0, 2]])


def test_incl_bwd_caches_gradients_equal_to_autograd(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    names = ["blocks.1.hook_resid_mid", "blocks.0.attn.hook_pattern"]
    _loss, cache = gpt.run_with_cache(tokens, return_type="loss", names_filter=names, incl_bwd=True)
    assert set(cache) == {*names, *(n + "_grad" for n in names)}
    acts = {}

    def keep(t: torch.Tensor, *, hook: object) -> None:
        t.retain_grad()
        acts[hook.name] = t  # type: ignore[attr-defined]

    gpt.zero_grad()
    loss2 = gpt.run_with_hooks(tokens, return_type="loss", fwd_hooks=[(names, keep)])
    loss2.backward()
    for n in names:
        assert torch.allclose(cache[n + "_grad"], acts[n].grad, atol=1e-7), n


def test_incl_bwd_needs_scalar_output(toy: Toy) -> None:
    with pytest.raises(ValueError, match="scalar"):
        toy.run_with_cache(torch.ones(2, 3), incl_bwd=True)
    assert all(not hp.fwd_hooks and not hp.bwd_hooks for hp in toy.hook_points())


def test_cache_holds_no_strong_reference_to_model() -> None:
    model = Toy()
    _, cache = model.run_with_cache(torch.ones(1, 3))
    assert cache.model is model
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None and cache.model is None and len(cache) == 3


def test_reset_hooks_end_false_keeps_caching(toy: Toy) -> None:
    _, cache = toy.run_with_cache(torch.ones(1, 3), reset_hooks_end=False, names_filter="hook_in")
    toy(torch.full((1, 3), 7.0))
    assert torch.equal(cache["hook_in"], torch.full((1, 3), 7.0))
    toy.reset_hooks()
    assert not toy.hook_in.fwd_hooks


def test_get_and_add_caching_hooks(toy: Toy) -> None:
    cache, fwd, bwd = toy.get_caching_hooks(("hook_in",), incl_bwd=True)
    assert [n for n, _ in fwd] == ["hook_in"] and [n for n, _ in bwd] == ["hook_in"]
    assert not toy.hook_in.fwd_hooks  # not attached
    added = toy.add_caching_hooks(["hook_out"])
    toy(torch.ones(1, 3))
    assert list(added) == ["hook_out"] and cache == {}


def test_activation_cache_mapping_and_repr() -> None:
    cache = ActivationCache({"a": torch.zeros(2, 3), "b": torch.zeros(1, 4, dtype=torch.float64)})
    assert cache.total_bytes == 2 * 3 * 4 + 4 * 8
    assert repr(cache) == "ActivationCache(2 activations, 56 B: 'a', 'b')"
    cache["c"] = torch.ones(1)
    del cache["c"]
    assert dict(cache).keys() == {"a", "b"}
    with pytest.raises(KeyError, match="did you mean 'a'"):
        cache["aa"]


def test_activation_cache_to_and_remove_batch_dim_errors() -> None:
    cache = ActivationCache({"a": torch.zeros(2, 3)})
    assert cache.to("meta") is cache and cache["a"].device.type == "meta"
    with pytest.raises(ValueError, match="'a' has shape"):
        cache.remove_batch_dim()
    with pytest.raises(ValueError, match="model.to"):
        cache.to("cpu", move_model=True)


def test_cached_tensors_are_freed_without_the_cycle_collector() -> None:
    # Reference cycles (handle -> dispatch tuple -> handle) kept caches alive until the next
    # gc pass: memory was never reused and run_with_cache cost ~25% more at 4x64.
    model = Toy()
    gc.collect()
    gc.disable()
    try:
        _, cache = model.run_with_cache(torch.ones(1, 3))
        ref = weakref.ref(cache["inner.hook_mid"])
        with model.hooks([("hook_in", lambda t, hook: None)]):
            model(torch.ones(1, 3))
        del cache
        assert ref() is None
    finally:
        gc.enable()


def test_save_and_load_go_through_the_named_cache_format(tmp_path: Path) -> None:
    """ActivationCache.save/load use the ``hookpoints_cache_formats`` extension point, chosen by name or suffix."""
    import types

    import hookpoints
    from hookpoints.plugins import CacheFormat, hookimpl

    written: dict[str, object] = {}

    def save(cache: ActivationCache, path: Path) -> Path:
        written[str(path)] = {k: v.clone() for k, v in cache.items()}
        return Path(path)

    def load(path: Path) -> ActivationCache:
        return ActivationCache(written[str(path)])  # type: ignore[arg-type]

    @hookimpl
    def hookpoints_cache_formats():  # type: ignore[no-untyped-def]
        yield CacheFormat("memo", "kept in a dict", save, load, suffixes=(".memo",))

    name = hookpoints.plugins.register(
        types.SimpleNamespace(hookpoints_cache_formats=hookpoints_cache_formats)
    )
    try:
        cache = ActivationCache({"a": torch.ones(2)})
        assert cache.save(tmp_path / "x.memo") == tmp_path / "x.memo"  # chosen by suffix
        assert torch.equal(ActivationCache.load(tmp_path / "x.memo")["a"], torch.ones(2))
        cache.save(tmp_path / "y.bin", format="memo")  # chosen by name
        assert torch.equal(ActivationCache.load(tmp_path / "y.bin", format="memo")["a"], torch.ones(2))
        with pytest.raises(
            hookpoints.errors.UnknownNameError, match="no cache format named 'mmeo'.*did you mean 'memo'"
        ):
            cache.save(tmp_path / "z", format="mmeo")
    finally:
        hookpoints.plugins.unregister(name)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"pos_slice": -1},
        {"remove_batch_dim": True},
        {"names_filter": ["blocks.0.attn.hook_z", "hook_embed"]},
    ],
    ids=["all", "pos_slice", "remove_batch_dim", "names"],
)
def test_reuse_mode_equals_default_mode_over_changing_shapes(
    gpt: TinyGPT, options: dict[str, object]
) -> None:
    batches = [torch.randint(0, 50, shape, generator=torch.Generator().manual_seed(i)) for i, shape in
               enumerate([(1, 6), (1, 6), (1, 4), (1, 8), (1, 8), (1, 6)])]  # fmt: skip
    reused: ActivationCache | None = None
    buffers_kept = 0
    for tokens in batches:
        expected_out, expected = gpt.run_with_cache(tokens, **options)  # type: ignore[arg-type]
        previous = dict(reused) if reused is not None else {}
        out, cache = gpt.run_with_cache(tokens, out=reused, **options)  # type: ignore[arg-type]
        assert reused is None or cache is reused
        assert torch.equal(out, expected_out)
        assert sorted(cache) == sorted(expected)
        for name, value in expected.items():
            assert torch.equal(cache[name], value), name
            assert not cache[name].requires_grad
            buffers_kept += previous.get(name) is cache[name]
        assert cache.model is gpt and cache.has_batch_dim == (not options.get("remove_batch_dim", False))
        reused = cache
    assert buffers_kept > 0  # same-shape batches reused their buffers


def test_reuse_mode_overwrites_the_previous_tensors_and_never_keeps_the_models(gpt: TinyGPT) -> None:
    first, second = torch.zeros(1, 6, dtype=torch.long), torch.ones(1, 6, dtype=torch.long)
    logits, cache = gpt.run_with_cache(first, names_filter="ln_final.hook_normalized")
    kept = cache["ln_final.hook_normalized"]
    snapshot = kept.clone()
    logits2, again = gpt.run_with_cache(second, names_filter="ln_final.hook_normalized", out=cache)
    assert again is cache and again["ln_final.hook_normalized"] is kept  # the documented rule:
    assert not torch.equal(kept, snapshot)  # the earlier call's tensor now holds this call's values
    # a buffer is never the model's own tensor, so the output of the earlier call is untouched
    reused_first = gpt.run_with_cache(first, names_filter="ln_final.hook_normalized", out=cache)[0]
    assert torch.equal(reused_first, logits) and not torch.equal(logits2, logits)


def test_reuse_mode_drops_names_not_cached_and_checks_its_arguments(
    gpt: TinyGPT, tokens: torch.Tensor
) -> None:
    _, cache = gpt.run_with_cache(tokens, names_filter=["hook_embed", "hook_pos_embed"])
    _, cache = gpt.run_with_cache(tokens, names_filter="hook_embed", out=cache)
    assert list(cache) == ["hook_embed"]
    with pytest.raises(TypeError, match="out must be an ActivationCache.*got dict"):
        gpt.run_with_cache(tokens, out={})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="out= or sink="):
        gpt.run_with_cache(tokens, out=cache, sink="memory")
    assert all(not hp.fwd_hooks for hp in gpt.hook_points())


def test_reuse_mode_with_gradients_and_device(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    gpt.forward, original = (lambda t: TinyGPT.forward(gpt, t).sum()), gpt.forward  # type: ignore[method-assign]
    try:
        _, expected = gpt.run_with_cache(tokens, incl_bwd=True, device="cpu")
        _, cache = gpt.run_with_cache(tokens, incl_bwd=True, device="cpu")
        for _ in range(2):
            gpt.zero_grad()
            _, cache = gpt.run_with_cache(tokens, incl_bwd=True, device="cpu", out=cache)
        assert sorted(cache) == sorted(expected)
        for name, value in expected.items():
            assert torch.allclose(cache[name], value), name
    finally:
        gpt.forward = original  # type: ignore[method-assign]


def test_cache_and_report_show_as_html_in_notebooks() -> None:
    from hookpoints.examples import TinyGPT, TinyGPTConfig
    from hookpoints.reports.data import build_report

    model = TinyGPT(TinyGPTConfig(n_layers=1))
    with torch.no_grad():
        _, cache = model.run_with_cache(torch.zeros(1, 3, dtype=torch.long))
    html = cache._repr_html_()
    assert html.startswith("<table>") and f"{len(cache)} activations" in html
    assert "<code>blocks.0.attn.hook_z</code></td><td>1x3x" in html
    report_html = build_report(model, cache)._repr_html_()
    assert "blocks.0.attn.hook_z" in report_html and report_html.startswith("<")  # html's fragment or <pre>
