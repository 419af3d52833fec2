"""torch.compile: caching hooks on hook points cause no graph break and give equal values."""

from __future__ import annotations

import torch

from hookpoints.examples import TinyGPT


def test_compiled_model_with_caching_hooks_has_no_graph_breaks(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    torch._dynamo.reset()
    cache: dict[str, torch.Tensor] = {}

    def save(t: torch.Tensor, *, hook: object) -> None:
        cache[hook.name] = t.detach()  # type: ignore[attr-defined]

    def ablate(t: torch.Tensor, *, hook: object) -> torch.Tensor:
        return t * 0.5

    gpt.add_hook(lambda n: True, save)
    gpt.add_hook("blocks.0.attn.hook_z", ablate)
    with torch.no_grad():
        explanation = torch._dynamo.explain(gpt)(tokens)
        assert explanation.graph_break_count == 0, explanation.break_reasons
        eager = gpt(tokens)
        expected = dict(cache)
        cache.clear()
        compiled = torch.compile(gpt, backend="aot_eager")(tokens)
    assert torch.allclose(compiled, eager, atol=1e-6)
    assert cache.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.allclose(cache[name], value, atol=1e-6), name
    torch._dynamo.reset()
