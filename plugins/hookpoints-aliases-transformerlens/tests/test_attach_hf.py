"""attach() on unmodified HF GPT-2, Llama and a BERT encoder; the transformerlens scheme."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hf_models import TOKENS, bert, gpt2, llama

import hookpoints
from hookpoints.testing import check_alias_scheme

MODELS: dict[str, Callable[[], torch.nn.Module]] = {"gpt2": gpt2, "llama": llama, "bert": bert}


def primary(output: object) -> torch.Tensor:
    return (
        output[0]
        if isinstance(output, tuple)
        else next(v for v in output.values() if isinstance(v, torch.Tensor))
    )


def raw_cache(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    cache: dict[str, torch.Tensor] = {}

    def keep(path: str):  # type: ignore[no-untyped-def]
        def hook(module: torch.nn.Module, args: object, out: object) -> None:
            value = out if isinstance(out, torch.Tensor) else primary(out) if out is not None else None
            if isinstance(value, torch.Tensor):
                cache[f"{path}.hook_out"] = value.detach()

        return hook

    handles = [m.register_forward_hook(keep(p)) for p, m in model.named_modules() if p]
    with torch.no_grad():
        model(TOKENS)
    for h in handles:
        h.remove()
    return cache


@pytest.mark.parametrize("arch", MODELS)
def test_attached_model_is_the_model(arch: str) -> None:
    model = MODELS[arch]()
    with torch.no_grad():
        expected = primary(model(TOKENS))
        hooked = hookpoints.attach(model)
        assert torch.equal(primary(hooked(TOKENS)), expected)
    assert hooked.torch_hook_count == 0


@pytest.mark.parametrize("arch", MODELS)
def test_caching_every_point_equals_raw_torch_hooks(arch: str) -> None:
    model = MODELS[arch]()
    expected = raw_cache(model)
    hooked = hookpoints.attach(model)
    with torch.no_grad():
        _, cache = hooked.run_with_cache(TOKENS, names_filter=lambda n: n.endswith("hook_out"))
    assert set(expected) <= set(cache)
    for name, value in expected.items():
        assert torch.equal(cache[name], value), name
    assert hooked.torch_hook_count == 0


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_patching_equals_same_edit_with_raw_torch_hook(arch: str) -> None:
    model = MODELS[arch]()
    layer = model.transformer.h[0].mlp if arch == "gpt2" else model.model.layers[0].mlp
    path = "transformer.h.0.mlp" if arch == "gpt2" else "model.layers.0.mlp"
    hooked = hookpoints.attach(model)
    with torch.no_grad():
        patched = hooked.run_with_hooks(TOKENS, fwd_hooks=[(f"{path}.hook_out", lambda t, hook: t * -1)])
        handle = layer.register_forward_hook(lambda m, a, out: out * -1)
        try:
            expected = model(TOKENS)
        finally:
            handle.remove()
    assert torch.equal(patched.logits, expected.logits)


@pytest.mark.parametrize("arch", MODELS)
def test_detach_leaves_no_hooks_and_the_same_model(arch: str) -> None:
    model = MODELS[arch]()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before = primary(model(TOKENS))
    with hookpoints.attach(model, include=lambda p: ".0." in p or p.endswith("embeddings")) as hooked:
        hooked.add_hook(lambda n: True, lambda t, hook: None)
        hooked.add_perma_hook(lambda n: n.endswith("hook_out"), lambda g, hook: None, dir="bwd")
        assert hooked.torch_hook_count > 0
        primary(hooked(TOKENS)).float().sum().backward()
    assert all(not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks) for m in model.modules())
    with torch.no_grad():
        assert torch.equal(primary(model(TOKENS)), before)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_transformerlens_scheme_conforms(arch: str) -> None:
    model = MODELS[arch]()
    check_alias_scheme("transformerlens", hookpoints.attach(model))
    assert hookpoints.aliases.source("transformerlens").distribution == "hookpoints-aliases-transformerlens"


def test_unknown_architecture_is_named() -> None:
    with pytest.raises(
        ValueError, match="no table for BertModel \\(config.model_type='bert'\\); known: gpt2, llama"
    ):
        hookpoints.attach(bert(), aliases="transformerlens")


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_tl_names_shapes_and_one_call_per_forward(arch: str) -> None:
    hooked = hookpoints.attach(MODELS[arch](), aliases="transformerlens")
    calls: list[str] = []
    with torch.no_grad():
        _, cache = hooked.run_with_cache(
            TOKENS, names_filter=lambda n: n.startswith(("blocks.", "hook_", "ln_final"))
        )
        hooked.run_with_hooks(
            TOKENS, fwd_hooks=[(lambda n: n.startswith("blocks.1."), lambda t, hook: calls.append(hook.name))]
        )
    assert cache["blocks.0.attn.hook_q"].shape == (2, 10, 4, 16)
    assert cache["blocks.0.attn.hook_k"].shape == ((2, 10, 4, 16) if arch == "gpt2" else (2, 10, 2, 16))
    assert cache["blocks.1.attn.hook_z"].shape == (2, 10, 4, 16)
    assert cache["blocks.1.hook_resid_post"].shape == (2, 10, 64)
    assert len(calls) == len(set(calls))  # every hook fired exactly once
    assert hooked.torch_hook_count == 0


def test_zero_ablating_a_head_through_hook_z_equals_the_hand_made_edit() -> None:
    model = gpt2()
    hooked = hookpoints.attach(model, aliases="transformerlens")

    def ablate(z: torch.Tensor, *, hook: object) -> torch.Tensor:
        z = z.clone()
        z[:, :, 2] = 0
        return z

    def by_hand(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x = args[0].clone()
        x[..., 32:48] = 0  # head 2 of 4, d_head 16
        return (x,)

    with torch.no_grad():
        patched = hooked.run_with_hooks(TOKENS, fwd_hooks=[("blocks.0.attn.hook_z", ablate)])
        handle = model.transformer.h[0].attn.c_proj.register_forward_pre_hook(by_hand)
        try:
            expected = model(TOKENS)
        finally:
            handle.remove()
    assert torch.equal(patched.logits, expected.logits)
