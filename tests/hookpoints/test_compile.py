"""torch.compile: caching hooks on hook points cause no graph break and give equal values."""

from __future__ import annotations

import torch

from hookpoints import BaseTensorConversion
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


class HeadsFirst(BaseTensorConversion):
    """hook_z [batch, pos, head, d_head] seen as [batch, head, pos, d_head]: always a view."""

    convert_returns_view = True

    def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        return x.transpose(1, 2)

    def handle_revert(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        return x.transpose(1, 2)


def test_hooks_through_conversions_compile_without_graph_breaks(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    """Both dispatch paths: a returned copy goes through revert, an in-place edit skips it."""
    torch._dynamo.reset()

    def zero_head_0_in_place(t: torch.Tensor, *, hook: object) -> torch.Tensor:
        t[:, 0] = 0
        return t

    def halve_copy(t: torch.Tensor, *, hook: object) -> torch.Tensor:
        return t * 0.5

    gpt.hook_dict["blocks.0.attn.hook_z"].enable_reshape(HeadsFirst())
    gpt.hook_dict["blocks.1.attn.hook_z"].enable_reshape(HeadsFirst())
    gpt.add_hook("blocks.0.attn.hook_z", zero_head_0_in_place)
    gpt.add_hook("blocks.1.attn.hook_z", halve_copy)
    with torch.no_grad():
        explanation = torch._dynamo.explain(gpt)(tokens)
        assert explanation.graph_break_count == 0, explanation.break_reasons
        eager = gpt(tokens)
        compiled = torch.compile(gpt, backend="aot_eager")(tokens)
        gpt.reset_hooks()
        for layer in (0, 1):
            gpt.hook_dict[f"blocks.{layer}.attn.hook_z"].enable_reshape(None)
        plain = gpt(tokens)

        def by_hand(z: torch.Tensor, *, hook: object) -> torch.Tensor:
            z = z.clone()
            z[:, :, 0] = 0
            return z

        expected = gpt.run_with_hooks(
            tokens,
            fwd_hooks=[("blocks.0.attn.hook_z", by_hand), ("blocks.1.attn.hook_z", lambda z, hook: z * 0.5)],
        )
    assert torch.allclose(eager, expected, atol=1e-6), "eager hooks through the views equal the hand edits"
    assert torch.allclose(compiled, eager, atol=1e-6)
    assert not torch.allclose(eager, plain), "the hooks must change the output"
    torch._dynamo.reset()


def test_scoped_hooks_compile_without_graph_breaks_and_later_hooks_fire(
    gpt: TinyGPT, tokens: torch.Tensor
) -> None:
    """Inside a hooks() block (the per-context path) and for hooks added after compiling."""
    torch._dynamo.reset()
    seen: list[str] = []

    def halve(t: torch.Tensor, *, hook: object) -> torch.Tensor:
        seen.append(hook.name)  # type: ignore[attr-defined]
        return t * 0.5

    compiled = torch.compile(gpt, backend="aot_eager")
    with torch.no_grad():
        plain = gpt(tokens)
        assert torch.allclose(compiled(tokens), plain, atol=1e-6)
        with gpt.hooks(fwd_hooks=[("blocks.0.hook_resid_mid", halve)]):
            explanation = torch._dynamo.explain(gpt)(tokens)
            assert explanation.graph_break_count == 0, explanation.break_reasons
            eager = gpt(tokens)
            seen.clear()
            patched = compiled(tokens)  # hooks added after compiling fire
        assert seen == ["blocks.0.hook_resid_mid"]
        assert torch.allclose(patched, eager, atol=1e-6) and not torch.allclose(patched, plain)
        assert torch.allclose(compiled(tokens), plain, atol=1e-6)  # and are gone after the block
    torch._dynamo.reset()


def test_compiled_forwards_in_two_threads_see_only_their_own_scoped_hooks(
    gpt: TinyGPT, tokens: torch.Tensor
) -> None:
    import threading

    torch._dynamo.reset()
    compiled = torch.compile(gpt, backend="aot_eager")

    def halve(t: torch.Tensor, *, hook: object) -> torch.Tensor:
        return t * 0.5

    with torch.no_grad():
        plain = gpt(tokens)
        patched = gpt.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_resid_mid", halve)])
    opened, done = threading.Event(), threading.Event()
    results: dict[str, bool] = {}

    def patcher() -> None:
        with torch.no_grad(), gpt.hooks(fwd_hooks=[("blocks.0.hook_resid_mid", halve)]):
            results["patcher patched"] = torch.allclose(compiled(tokens), patched, atol=1e-6)
            opened.set()
            assert done.wait(60)

    def plain_caller() -> None:
        assert opened.wait(60)
        with torch.no_grad():
            results["other thread plain"] = torch.allclose(compiled(tokens), plain, atol=1e-6)
        done.set()

    threads = [threading.Thread(target=patcher), threading.Thread(target=plain_caller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {"patcher patched": True, "other thread plain": True}
    torch._dynamo.reset()
