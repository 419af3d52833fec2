"""End to end on TinyGPT: edits through a view give exactly the logits and gradients of the
same edit made by hand; the conversion runs once per forward per point."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

import hookpoints
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


gpt = pytest.fixture(name="gpt")(small_gpt)
tokens = pytest.fixture(name="tokens")(small_tokens)


zero_head_by_hand = zero_head


def zero_merged_columns(head: int) -> Any:
    return zero_head_columns(head, CFG.d_head)


def zero_all(view: Tensor, *, hook: Any) -> Tensor:
    return view * 0


@pytest.mark.parametrize("head", [0, 1])
def test_head_ablation_through_merge_heads_equals_ablation_by_hand(
    gpt: TinyGPT, tokens: Tensor, head: int
) -> None:
    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(Z, zero_head_by_hand(head))])
    gpt.hook_dict[Z].enable_reshape("merge_heads", n_heads=CFG.n_heads)
    seen: list[tuple[int, ...]] = []
    probe = (Z, lambda view, hook: seen.append(tuple(view.shape)))
    through = gpt.run_with_hooks(tokens, fwd_hooks=[probe, (Z, zero_merged_columns(head))])
    assert seen == [(2, 6, CFG.n_heads * CFG.d_head)]
    assert torch.equal(through, expected)
    assert not torch.equal(through, gpt(tokens)), "the ablation must change the logits"


@pytest.mark.parametrize("head", [0, 1])
def test_head_ablation_through_a_chain_with_select_chunk(gpt: TinyGPT, tokens: Tensor, head: int) -> None:
    """merge heads, then the head's own columns as a chunk: the view is just that head."""
    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(Z, zero_head_by_hand(head))])
    steps = [("merge_heads", {}), ("select_chunk", {"index": head, "chunks": CFG.n_heads})]
    gpt.hook_dict[Z].enable_reshape("chain", steps=steps)
    assert torch.equal(gpt.run_with_hooks(tokens, fwd_hooks=[(Z, zero_all)]), expected)


def test_split_heads_on_a_fused_activation_equals_hand_edit(gpt: TinyGPT, tokens: Tensor) -> None:
    """split_heads on [batch, pos, d_model]: scaling "head" 1 of the residual stream."""
    name = "blocks.1.hook_resid_mid"

    def by_hand(x: Tensor, *, hook: Any) -> Tensor:
        x = x.clone()
        x[..., 16:32] *= 3
        return x

    def through(view: Tensor, *, hook: Any) -> Tensor:
        view = view.clone()
        view[..., 1, :] *= 3
        return view

    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(name, by_hand)])
    gpt.hook_dict[name].enable_reshape("split_heads", n_heads=2)
    assert torch.equal(gpt.run_with_hooks(tokens, fwd_hooks=[(name, through)]), expected)


def test_in_place_head_ablation_through_split_heads_equals_hand_edit_with_gradients(
    gpt: TinyGPT, tokens: Tensor
) -> None:
    """TransformerLens's canonical ablation hook (edit in place, return the view) needs no revert."""
    name = "blocks.1.hook_resid_mid"

    def by_hand(x: Tensor, *, hook: Any) -> Tensor:
        x[..., 16:32] = 0.0
        return x

    def in_place(view: Tensor, *, hook: Any) -> Tensor:
        view[:, :, 1] = 0.0
        return view

    def loss_and_grads(hook: Any) -> tuple[Tensor, dict[str, Tensor]]:
        gpt.zero_grad(set_to_none=True)
        loss = gpt.run_with_hooks(tokens, return_type="loss", fwd_hooks=[(name, hook)])
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in gpt.named_parameters() if p.grad is not None}

    expected_loss, expected = loss_and_grads(by_hand)
    conversion = hookpoints.conversions.create("split_heads", n_heads=2)
    reverts = []
    revert = conversion.revert
    conversion.revert = lambda *a: reverts.append(1) or revert(*a)  # type: ignore[method-assign]
    gpt.hook_dict[name].enable_reshape(conversion)
    loss, through = loss_and_grads(in_place)
    assert reverts == [], "an in-place edit of a view is already in the activation"
    assert torch.equal(loss, expected_loss)
    logits = gpt.run_with_hooks(tokens, fwd_hooks=[(name, in_place)])
    gpt.hook_dict[name].enable_reshape(None)
    assert torch.equal(logits, gpt.run_with_hooks(tokens, fwd_hooks=[(name, by_hand)]))
    assert not torch.equal(logits, gpt(tokens)), "the ablation must change the logits"
    assert through.keys() == expected.keys()
    for param, grad in expected.items():
        assert torch.equal(through[param], grad), f"gradient of {param} differs"


def test_conversion_runs_once_per_forward_per_point_with_several_hooks(gpt: TinyGPT, tokens: Tensor) -> None:
    check_converts_once_per_forward(
        gpt, Z, hookpoints.conversions.create("merge_heads", n_heads=CFG.n_heads), tokens, forwards=2
    )


def _grads(model: TinyGPT, tokens: Tensor, bwd_hooks: list[tuple[str, Any]]) -> dict[str, Tensor]:
    model.zero_grad(set_to_none=True)
    loss = model.run_with_hooks(tokens, return_type="loss", bwd_hooks=bwd_hooks)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_backward_hooks_see_the_gradient_through_the_view_and_edits_land_back(
    gpt: TinyGPT, tokens: Tensor
) -> None:
    plain: list[Tensor] = []
    expected = _grads(
        gpt,
        tokens,
        [
            (Z, lambda g, hook: plain.append(g.clone())),
            (Z, lambda g, hook: zero_head_by_hand(1)(g, hook=hook)),
        ],
    )
    gpt.hook_dict[Z].enable_reshape("merge_heads", n_heads=CFG.n_heads)
    seen: list[Tensor] = []
    through = _grads(gpt, tokens, [(Z, lambda g, hook: seen.append(g.clone())), (Z, zero_merged_columns(1))])
    assert torch.equal(seen[0], plain[0].flatten(-2)), (
        "the backward hook sees the gradient in the view's layout"
    )
    assert through.keys() == expected.keys()
    for name, grad in expected.items():
        assert torch.equal(through[name], grad), f"gradient of {name} differs"
    w_v = through["blocks.0.attn.W_V"]  # z = pattern @ v: head 1's zeroed gradient reaches its W_V
    assert torch.equal(w_v[1], torch.zeros_like(w_v[1])) and w_v[0].abs().sum() > 0


def test_backward_hook_through_select_chunk_writes_only_its_chunk(gpt: TinyGPT, tokens: Tensor) -> None:
    name = "blocks.0.hook_resid_pre"
    expected_hook = (name, lambda g, hook: torch.cat([g[..., :16], g[..., 16:] * 10], dim=-1))
    expected = _grads(gpt, tokens, [expected_hook])
    gpt.hook_dict[name].enable_reshape("select_chunk", index=1, chunks=2)
    through = _grads(gpt, tokens, [(name, lambda g, hook: g * 10)])
    for param, grad in expected.items():
        assert torch.equal(through[param], grad), f"gradient of {param} differs"


@pytest.mark.parametrize("dir", ["fwd", "bwd"])
def test_split_heads_of_the_wrong_width_names_the_point_and_the_widths(
    gpt: TinyGPT, tokens: Tensor, dir: str
) -> None:
    """``n_heads=5`` on a width-32 point is accepted (the width is unknown until a tensor is
    seen) and fails at first use naming the point, n_heads and the width."""
    name = "blocks.0.hook_resid_pre"
    reference = gpt(tokens)
    point = gpt.hook_dict[name]
    point.enable_reshape("split_heads", n_heads=5)
    message = (
        rf"^split_heads\(n_heads=5\) on hook point '{name}': the activation's width \(last dimension\) "
        r"is 32, which is not divisible by n_heads=5; expected a width n_heads \* d_head"
    )
    with pytest.raises(ValueError, match=message):
        if dir == "fwd":
            gpt.run_with_hooks(tokens, fwd_hooks=[(name, lambda t, hook: None)])
        else:
            gpt.run_with_hooks(tokens, bwd_hooks=[(name, lambda g, hook: None)]).sum().backward()
    assert not point.fwd_hooks and not point.bwd_hooks  # the failed run's hooks are gone
    assert torch.equal(gpt(tokens), reference)  # at rest the conversion is never called
    point.enable_reshape("split_heads", n_heads=4)  # a fitting width works on the same point
    seen: list[tuple[int, ...]] = []
    gpt.run_with_hooks(tokens, fwd_hooks=[(name, lambda t, hook: seen.append(tuple(t.shape)))])
    assert seen == [(2, 6, 4, 8)]
    point.enable_reshape(None)
    assert torch.equal(gpt(tokens), reference)


def test_a_step_failing_outside_any_hook_point_says_nothing_of_a_point() -> None:
    step = hookpoints.conversions.create("split_heads", n_heads=5)
    with pytest.raises(ValueError, match=r"^split_heads\(n_heads=5\): the activation's width"):
        step.convert(torch.zeros(2, 32))
