"""Bad input gets a clear error naming what is at fault, raised before work starts, state unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from hookpoints import HookNameError, HookShapeError
from hookpoints.examples import TinyGPT


def _noop(t: torch.Tensor, *, hook: Any) -> None:
    return None


def _untouched(gpt: TinyGPT) -> bool:
    return all(not p.fwd_hooks and not p.bwd_hooks for p in gpt.hook_points()) and gpt.context_level == 0


@pytest.mark.parametrize(
    ("fwd_hooks", "message"),
    [
        (
            [("hook_embed",)],
            r"fwd_hooks must be a list of \(target, hook\) pairs.*item 0 is \('hook_embed',\)",
        ),
        (("hook_embed", _noop), r"one bare pair: wrap it in a list"),
        (None, r"fwd_hooks must be a list.*got NoneType"),
        ([("hook_embed", "not a function")], r"the hook of item 0 \('hook_embed'\) is a str"),
    ],
    ids=["short-pair", "bare-pair", "none", "not-callable"],
)
def test_malformed_hook_pairs(gpt: TinyGPT, tokens: torch.Tensor, fwd_hooks: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        gpt.run_with_hooks(tokens, fwd_hooks=fwd_hooks)
    assert _untouched(gpt)


@pytest.mark.parametrize("level", ["abc", 1.5, True])
def test_level_must_be_an_int(gpt: TinyGPT, level: object) -> None:
    with pytest.raises(TypeError, match="level must be an int"):
        gpt.add_hook("hook_embed", _noop, level=level)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="level must be an int"):
        gpt.hook_dict["hook_embed"].add_hook(_noop, level=level)  # type: ignore[arg-type]
    assert _untouched(gpt)


@pytest.mark.parametrize(("device", "message"), [("gpu", "is not a torch device"), ("cuda:3", "CUDA device")])
def test_bad_device_is_refused_before_the_forward(
    gpt: TinyGPT, tokens: torch.Tensor, device: str, message: str
) -> None:
    if device.startswith("cuda") and torch.cuda.device_count() > 3:
        pytest.skip("this machine has a cuda:3")
    calls: list[int] = []
    gpt.hook_dict["hook_embed"].add_hook(lambda t, hook: calls.append(1))
    with pytest.raises(ValueError, match=f"device={device!r}.*{message}"):
        gpt.run_with_cache(tokens, device=device)
    assert calls == []  # nothing ran
    gpt.reset_hooks()
    assert _untouched(gpt)


@pytest.mark.parametrize("wrong", [lambda t: t.double(), lambda t: t.to("meta")], ids=["dtype", "device"])
def test_hook_returning_another_dtype_or_device_names_the_point(
    gpt: TinyGPT, tokens: torch.Tensor, wrong: Any
) -> None:
    with pytest.raises(HookShapeError, match=r"hook point 'blocks.0.hook_resid_pre' returned a .* tensor on"):
        gpt.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_resid_pre", lambda t, hook: wrong(t))])
    assert _untouched(gpt)


def test_list_hooks_with_a_misspelt_name_raises(gpt: TinyGPT) -> None:
    with pytest.raises(HookNameError, match="'hook_embd'.*did you mean 'hook_embed'"):
        gpt.list_hooks("hook_embd")
    assert gpt.list_hooks("hook_embed") == {}


def test_transformerlens_style_cache_keys(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    _, cache = gpt.run_with_cache(tokens)
    assert cache["resid_post", 0] is cache["blocks.0.hook_resid_post"]
    assert cache["q", 1] is cache["blocks.1.attn.hook_q"]  # get_act_name's submodule for q
    with pytest.raises(HookNameError, match=r"\('resid_postt', 0\).*did you mean 'blocks.0.hook_resid_post'"):
        cache["resid_postt", 0]
    with pytest.raises(KeyError):
        cache[3]  # type: ignore[index]
