"""Parity with TransformerLens 3.9 itself: same weights, same names, same tensors, same patch."""

from __future__ import annotations

import pytest
import torch
import transformer_lens as tl  # the plugin's [test] extra; nox installs it
from hf_models import TOKENS, gpt2

import hookpoints

NAMES = [
    "hook_embed",
    "ln_final.hook_normalized",
    *(
        f"blocks.{layer}.{name}"
        for layer in range(2)
        for name in (
            "hook_resid_pre",
            "ln1.hook_normalized",
            "attn.hook_q",
            "attn.hook_k",
            "attn.hook_v",
            "attn.hook_z",
            "hook_attn_out",
            "hook_resid_mid",
            "ln2.hook_normalized",
            "mlp.hook_pre",
            "mlp.hook_post",
            "hook_mlp_out",
            "hook_resid_post",
        )
    ),
]


@pytest.fixture(scope="module")
def pair() -> tuple[object, object]:
    from transformer_lens.pretrained.weight_conversions.gpt2 import convert_gpt2_weights

    hf = gpt2()
    c = hf.config
    cfg = tl.HookedTransformerConfig(
        n_layers=c.n_layer,
        d_model=c.n_embd,
        n_heads=c.n_head,
        d_head=c.n_embd // c.n_head,
        d_mlp=4 * c.n_embd,
        d_vocab=c.vocab_size,
        n_ctx=c.n_positions,
        act_fn="gelu_new",
        normalization_type="LN",
        eps=c.layer_norm_epsilon,
    )
    model = tl.HookedTransformer(cfg)
    model.load_state_dict(convert_gpt2_weights(hf, cfg), strict=False)  # weight processing off
    return hf, model.eval()


def test_logits_agree(pair: tuple[object, object]) -> None:
    hf, model = pair
    with torch.no_grad():
        torch.testing.assert_close(model(TOKENS), hf(TOKENS).logits, rtol=1e-4, atol=1e-5)


def test_every_name_holds_the_same_tensor(pair: tuple[object, object]) -> None:
    hf, model = pair
    hooked = hookpoints.attach(hf, aliases="transformerlens")
    with torch.no_grad():
        _, ours = hooked.run_with_cache(TOKENS, names_filter=[*NAMES, "hook_pos_embed"])
        _, theirs = model.run_with_cache(TOKENS, names_filter=[*NAMES, "hook_pos_embed"])
    for name in NAMES:
        assert ours[name].shape == theirs[name].shape, name
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-5, msg=name)
    # HF keeps the positional embedding un-broadcast: [1, pos, d] against TL's [batch, pos, d].
    torch.testing.assert_close(
        ours["hook_pos_embed"].expand_as(theirs["hook_pos_embed"]), theirs["hook_pos_embed"]
    )


def test_same_head_ablation_gives_the_same_logits(pair: tuple[object, object]) -> None:
    hf, model = pair
    hooked = hookpoints.attach(hf, aliases="transformerlens")

    def ablate(z: torch.Tensor, hook: object) -> torch.Tensor:
        z = z.clone()
        z[:, :, 1] = 0
        return z

    with torch.no_grad():
        ours = hooked.run_with_hooks(TOKENS, fwd_hooks=[("blocks.1.attn.hook_z", ablate)]).logits
        theirs = model.run_with_hooks(TOKENS, fwd_hooks=[("blocks.1.attn.hook_z", ablate)])
        clean = hf(TOKENS).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert (ours - clean).abs().max() > 1e-3  # the ablation did something
