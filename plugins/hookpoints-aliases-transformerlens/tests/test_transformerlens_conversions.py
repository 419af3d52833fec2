"""TransformerLens 3.9's own conversion objects on hookpoints' hook points.

Those with a real revert work as in TransformerLens; those that keep its identity revert
can be read through, and an edit through them is an error instead of a silent no-op.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import Tensor
from transformer_lens.conversion_utils.conversion_steps.attention_auto_conversion import (
    AttentionAutoConversion,
)
from transformer_lens.conversion_utils.conversion_steps.chain_tensor_conversion import ChainTensorConversion
from transformer_lens.conversion_utils.conversion_steps.rearrange_tensor_conversion import (
    RearrangeTensorConversion,
)
from transformer_lens.conversion_utils.conversion_steps.repeat_tensor_conversion import RepeatTensorConversion
from transformer_lens.conversion_utils.conversion_steps.split_tensor_conversion import SplitTensorConversion

from hookpoints import HookPoint, NonInvertibleConversionError
from hookpoints.examples import TinyGPT
from hookpoints.testing import SMALL_GPT

CFG = SMALL_GPT
Z = "blocks.0.attn.hook_z"  # [batch, pos, head, d_head]
TOKENS = torch.randint(0, CFG.d_vocab, (2, 6), generator=torch.Generator().manual_seed(1))


def test_head_ablation_through_tl_rearrange_equals_ablation_by_hand() -> None:
    gpt = TinyGPT(CFG).eval()

    def by_hand(z: Tensor, *, hook: Any) -> Tensor:
        z = z.clone()
        z[:, :, 1] = 0.0
        return z

    def merged(z: Tensor, *, hook: Any) -> Tensor:
        z = z.clone()
        z[..., CFG.d_head :] = 0.0
        return z

    expected = gpt.run_with_hooks(TOKENS, fwd_hooks=[(Z, by_hand)])
    gpt.hook_dict[Z].enable_reshape(RearrangeTensorConversion("b p h d -> b p (h d)", h=CFG.n_heads))
    through = gpt.run_with_hooks(TOKENS, fwd_hooks=[(Z, merged)])
    assert torch.equal(through, expected)
    assert not torch.equal(through, gpt(TOKENS))


@pytest.mark.parametrize(
    ("conversion", "culprit"),
    [
        (SplitTensorConversion(index=1, num_splits=2, dim=2), "SplitTensorConversion"),
        (RepeatTensorConversion("b p h d -> b p h d r", r=2), "RepeatTensorConversion"),
        (
            ChainTensorConversion([SplitTensorConversion(index=0, num_splits=2, dim=2)]),
            "SplitTensorConversion",
        ),
    ],
    ids=["split", "repeat", "chain"],
)
def test_tl_conversions_with_identity_revert_read_but_refuse_edits(conversion: Any, culprit: str) -> None:
    gpt = TinyGPT(CFG).eval()
    plain = gpt(TOKENS)
    point = gpt.hook_dict[Z]
    point.enable_reshape(conversion)
    seen: list[tuple[int, ...]] = []
    logits = gpt.run_with_hooks(TOKENS, fwd_hooks=[(Z, lambda v, hook: seen.append(tuple(v.shape)))])
    assert seen and seen[0] != (2, 6, CFG.n_heads, CFG.d_head), "the hook saw the converted view"
    assert torch.equal(logits, plain)
    with pytest.raises(
        NonInvertibleConversionError, match=f"{Z!r}.*{culprit} keeps TransformerLens's default revert"
    ):
        gpt.run_with_hooks(TOKENS, fwd_hooks=[(Z, lambda v, hook: v * 0)])
    assert not point.fwd_hooks, "run_with_hooks removed its hooks despite the error"


def test_tl_attention_auto_conversion_edits_where_its_convert_is_the_identity() -> None:
    """TL's bridge puts it on attention inputs and outputs: 3-D tensors pass through unchanged,
    so an edit is right there; a 4-D pattern it transposes cannot be written back."""
    point = HookPoint(name="attn.hook_out")
    point.enable_reshape(AttentionAutoConversion(SimpleNamespace(n_heads=2)))
    point.add_hook(lambda t, hook: t * 0)
    assert torch.equal(point(torch.ones(1, 3, 4)), torch.zeros(1, 3, 4))
    pattern = torch.ones(1, 3, 2, 3)  # [batch, query, head, key]: converted to [batch, head, query, key]
    with pytest.raises(NonInvertibleConversionError, match="AttentionAutoConversion keeps"):
        point(pattern)
