"""End to end on TinyGPT: einops views give exactly the logits and gradients of hand-made edits."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

import hookpoints
from hookpoints import NonInvertibleConversionError
from hookpoints.examples import TinyGPT
from hookpoints.testing import (
    SMALL_GPT,
    check_converts_once_per_forward,
    small_gpt,
    small_tokens,
    zero_head,
    zero_head_columns,
)

CFG = SMALL_GPT
Z = "blocks.0.attn.hook_z"  # [batch, pos, head, d_head]
RESID = "blocks.1.hook_resid_mid"  # [batch, pos, d_model]


gpt = pytest.fixture(name="gpt")(small_gpt)
tokens = pytest.fixture(name="tokens")(small_tokens)


zero_head_by_hand = zero_head


def zero_merged_columns(head: int) -> Any:
    return zero_head_columns(head, CFG.d_head)


@pytest.mark.parametrize("head", [0, 1])
def test_head_ablation_through_rearrange_equals_ablation_by_hand(
    gpt: TinyGPT, tokens: Tensor, head: int
) -> None:
    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(Z, zero_head_by_hand(head))])
    gpt.hook_dict[Z].enable_reshape("rearrange", pattern="b p h d -> b p (h d)")
    seen: list[tuple[int, ...]] = []
    probe = (Z, lambda view, hook: seen.append(tuple(view.shape)))
    through = gpt.run_with_hooks(tokens, fwd_hooks=[probe, (Z, zero_merged_columns(head))])
    assert seen == [(2, 6, CFG.n_heads * CFG.d_head)]
    assert torch.equal(through, expected)
    assert not torch.equal(through, gpt(tokens))


@pytest.mark.parametrize("head", [0, 3])
def test_split_heads_pattern_on_the_residual_stream_equals_hand_edit(
    gpt: TinyGPT, tokens: Tensor, head: int
) -> None:
    """The issue's example: enable_reshape("rearrange", pattern="b p (h d) -> b p h d", h=4)."""

    def by_hand(x: Tensor, *, hook: Any) -> Tensor:
        x = x.clone()
        x[..., head * 8 : (head + 1) * 8] = 0.0
        return x

    def through(view: Tensor, *, hook: Any) -> Tensor:
        assert view.shape == (2, 6, 4, 8)
        view = view.clone()
        view[:, :, head] = 0.0
        return view

    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(RESID, by_hand)])
    gpt.hook_dict[RESID].enable_reshape("rearrange", pattern="b p (h d) -> b p h d", h=4)
    assert torch.equal(gpt.run_with_hooks(tokens, fwd_hooks=[(RESID, through)]), expected)


def test_repeat_view_with_the_same_edit_on_every_copy_equals_hand_edit(gpt: TinyGPT, tokens: Tensor) -> None:
    def by_hand(x: Tensor, *, hook: Any) -> Tensor:
        return x * 0.5

    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(RESID, by_hand)])
    gpt.hook_dict[RESID].enable_reshape("repeat", pattern="b p d -> b p r d", r=3)
    assert torch.equal(gpt.run_with_hooks(tokens, fwd_hooks=[(RESID, lambda v, hook: v * 0.5)]), expected)


def test_reduce_view_reads_but_refuses_edits(gpt: TinyGPT, tokens: Tensor) -> None:
    gpt.hook_dict[Z].enable_reshape("reduce", pattern="b p h d -> b h", reduction="mean")
    _, cache = gpt.run_with_cache(tokens, names_filter=Z)
    gpt.hook_dict[Z].enable_reshape(None)
    _, plain = gpt.run_with_cache(tokens, names_filter=Z)
    torch.testing.assert_close(cache[Z], plain[Z].mean(dim=(1, 3)))
    gpt.hook_dict[Z].enable_reshape("reduce", pattern="b p h d -> b h")
    with pytest.raises(NonInvertibleConversionError, match="read-only"):
        gpt.run_with_hooks(tokens, fwd_hooks=[(Z, lambda v, hook: v * 0)])


def test_conversion_runs_once_per_forward_per_point_with_several_hooks(gpt: TinyGPT, tokens: Tensor) -> None:
    check_converts_once_per_forward(
        gpt, Z, hookpoints.conversions.create("rearrange", pattern="b p h d -> b p (h d)"), tokens, forwards=3
    )


def _grads(model: TinyGPT, tokens: Tensor, bwd_hooks: list[tuple[str, Any]]) -> dict[str, Tensor]:
    model.zero_grad(set_to_none=True)
    model.run_with_hooks(tokens, return_type="loss", bwd_hooks=bwd_hooks).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_backward_hooks_see_the_gradient_through_the_view_and_edits_land_back(
    gpt: TinyGPT, tokens: Tensor
) -> None:
    plain: list[Tensor] = []
    expected = _grads(gpt, tokens, [(Z, lambda g, hook: plain.append(g.clone())), (Z, zero_head_by_hand(0))])
    gpt.hook_dict[Z].enable_reshape("rearrange", pattern="b p h d -> b p (h d)")
    seen: list[Tensor] = []
    through = _grads(gpt, tokens, [(Z, lambda g, hook: seen.append(g.clone())), (Z, zero_merged_columns(0))])
    assert torch.equal(seen[0], plain[0].flatten(-2))
    assert through.keys() == expected.keys()
    for name, grad in expected.items():
        assert torch.equal(through[name], grad), f"gradient of {name} differs"
    w_v = through["blocks.0.attn.W_V"]
    assert torch.equal(w_v[0], torch.zeros_like(w_v[0])) and w_v[1].abs().sum() > 0
