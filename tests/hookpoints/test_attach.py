"""attach(): hook points on unmodified torch models; lazy torch hooks; aliases; detach."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import Tensor, nn

import hookpoints
from hookpoints import HookPoint, attach
from hookpoints.aliases.points import AliasPoint
from hookpoints.conversions.base import BaseTensorConversion
from hookpoints.extension_points import AliasRule, AliasScheme, ConversionStep


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.proj = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.proj(self.norm(x))
        return x + h, h  # tuple output: the primary tensor comes first


class Net(nn.Module):
    """Tuple outputs, a dict output, keyword-only input and a block reused twice."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(4, 8)
        self.shared = Block()
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.embed(input=x)  # keyword call: hook_in takes the first tensor keyword
        h, _ = self.shared(h)
        h, _ = self.shared(h)  # weight sharing: the same module runs twice
        return OrderedDict(logits=self.head(h), hidden=h)


@pytest.fixture
def net() -> Net:
    return Net().eval()


X = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))


def raw_outputs(model: nn.Module) -> dict[str, list[Tensor]]:
    """Reference: what raw torch forward hooks see at each module output (every call)."""
    seen: dict[str, list[Tensor]] = {}
    handles = []
    for path, module in model.named_modules():
        if path:

            def hook(m: nn.Module, args: object, out: object, path: str = path) -> None:
                value = (
                    out[0]
                    if isinstance(out, tuple)
                    else (next(iter(out.values())) if isinstance(out, dict) else out)
                )
                seen.setdefault(path, []).append(value.detach().clone())

            handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(X)
    for h in handles:
        h.remove()
    return seen


def test_points_for_every_submodule_and_nothing_installed_at_rest(net: Net) -> None:
    hooked = attach(net)
    names = list(hooked.hook_dict)
    assert names[:5] == [
        "hook_in",  # the model's own input first, its output last: forward order
        "embed.hook_in",
        "embed.hook_out",
        "shared.hook_in",
        "shared.hook_out",
    ]
    assert names[-1] == "hook_out"
    assert hooked.torch_hook_count == 0
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert torch.equal(hooked(X)["logits"], net(X)["logits"])


def test_include_limits_points(net: Net) -> None:
    hooked = attach(net, include=lambda path: path.startswith("shared"))
    assert sorted({n.rsplit(".", 1)[0] for n in hooked.hook_dict}) == ["shared", "shared.norm", "shared.proj"]


def test_cache_equals_raw_torch_hooks_and_keeps_last_call(net: Net) -> None:
    expected = raw_outputs(net)
    hooked = attach(net)
    with torch.no_grad():
        out, cache = hooked.run_with_cache(X)
    for path, values in expected.items():
        assert torch.equal(cache[f"{path}.hook_out"], values[-1]), path  # last call of a reused module
    assert torch.equal(cache["embed.hook_in"], X)  # keyword-only input
    assert hooked.torch_hook_count == 0 and torch.equal(out["logits"], net(X)["logits"])


def test_reused_module_fires_every_call(net: Net) -> None:
    hooked = attach(net)
    calls = []
    hooked.add_hook("shared.proj.hook_out", lambda t, hook: calls.append(t.shape))
    hooked(X)
    assert len(calls) == 2


def test_patch_equals_same_edit_with_raw_torch_hook(net: Net) -> None:
    hooked = attach(net)
    patched = hooked.run_with_hooks(X, fwd_hooks=[("shared.hook_out", lambda t, hook: t * 0.5)])
    handle = net.shared.register_forward_hook(lambda m, a, out: (out[0] * 0.5, *out[1:]))
    try:
        expected = net(X)
    finally:
        handle.remove()
    assert torch.equal(patched["logits"], expected["logits"])
    dict_patch = hooked.run_with_hooks(X, fwd_hooks=[("head.hook_out", lambda t, hook: t + 1)])
    assert torch.equal(dict_patch["logits"], net(X)["logits"] + 1)
    input_patch = hooked.run_with_hooks(X, fwd_hooks=[("head.hook_in", lambda t, hook: t * 0)])
    assert torch.allclose(input_patch["logits"], net.head.bias.expand(2, 3))


def test_gradients_and_incl_bwd(net: Net) -> None:
    hooked = attach(net)

    class Loss(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return hooked(x)["logits"].pow(2).sum()

    grads = []
    hooked.add_hook("shared.norm.hook_out", lambda g, hook: grads.append(g.clone()), dir="bwd")
    x = X.clone().requires_grad_(True)
    Loss()(x).backward()
    assert len(grads) == 2 and x.grad is not None  # both calls of the shared block
    hooked.reset_hooks()
    scaled = []
    hooked.add_hook("embed.hook_out", lambda g, hook: scaled.append(g) or g * 0, dir="bwd")
    y = X.clone().requires_grad_(True)
    Loss()(y).backward()
    assert torch.equal(y.grad, torch.zeros_like(y))  # the zeroed gradient flowed back
    hooked.reset_hooks()
    assert hooked.torch_hook_count == 0


def test_no_grad_and_detach_leave_model_exactly_as_it_was(net: Net) -> None:
    state = {k: v.clone() for k, v in net.state_dict().items()}
    reference = net(X)["logits"]
    with attach(net) as hooked:
        hooked.add_perma_hook("shared.hook_out", lambda t, hook: t * 2)
        hooked.add_hook("head.hook_in", lambda t, hook: None, dir="bwd")
        with torch.no_grad():
            assert not torch.equal(hooked(X)["logits"], reference)
        assert hooked.torch_hook_count == 2
    assert hooked.torch_hook_count == 0
    assert all(not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks) for m in net.modules())
    assert torch.equal(net(X)["logits"], reference)
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


class Double(BaseTensorConversion):
    def handle_conversion(self, x: Tensor, *ctx: object) -> Tensor:
        return x * 2

    def handle_revert(self, x: Tensor, *ctx: object) -> Tensor:
        return x / 2


class AliasPlugin:
    @hookpoints.hookimpl
    def hookpoints_conversion_steps(self):  # type: ignore[no-untyped-def]
        yield ConversionStep("test_double", "x2", Double)

    @hookpoints.hookimpl
    def hookpoints_alias_schemes(self):  # type: ignore[no-untyped-def]
        yield AliasScheme(
            "test_short",
            "short names",
            rules=(
                AliasRule("emb", "embed.hook_out"),
                AliasRule("resid_out", "shared.hook_out", (("test_double", {}),)),
            ),
        )


@pytest.fixture
def alias_plugin() -> object:
    name = hookpoints.plugins.register(AliasPlugin(), name="alias-test")
    yield name
    hookpoints.plugins.unregister(name)


def test_alias_hooks_see_alias_name_and_view_and_fire_once(net: Net, alias_plugin: str) -> None:
    hooked = attach(net, aliases="test_short")
    seen = []

    def look(t: Tensor, *, hook: object) -> None:
        seen.append((hook.name, t.clone()))  # type: ignore[attr-defined]

    with torch.no_grad():
        _, raw = hooked.run_with_cache(X, names_filter=["shared.hook_out"])
        hooked.run_with_hooks(X, fwd_hooks=[("resid_out", look)])
    assert [n for n, _ in seen] == ["resid_out", "resid_out"]  # once per call of the reused block
    assert torch.equal(seen[-1][1], raw["shared.hook_out"] * 2)  # the converted view


def test_alias_edit_goes_back_through_the_conversion(net: Net, alias_plugin: str) -> None:
    hooked = attach(net, aliases="test_short")
    via_alias = hooked.run_with_hooks(X, fwd_hooks=[("resid_out", lambda t, hook: t + 2)])
    direct = hooked.run_with_hooks(X, fwd_hooks=[("shared.hook_out", lambda t, hook: t + 1)])
    assert torch.allclose(via_alias["logits"], direct["logits"], atol=1e-6)


def test_cache_list_hooks_and_filters_understand_aliases(net: Net, alias_plugin: str) -> None:
    hooked = attach(net, aliases="test_short")
    with torch.no_grad():
        _, cache = hooked.run_with_cache(X, names_filter=["emb", "embed.hook_out"])
    assert set(cache) == {"emb", "embed.hook_out"}
    assert torch.equal(cache["emb"], cache["embed.hook_out"])
    handle = hooked.add_hook("emb", lambda t, hook: None)
    assert list(hooked.list_hooks("emb")) == ["emb"]
    assert hooked.torch_hook_count == 1  # the canonical point's torch hook
    handle.remove()
    assert hooked.torch_hook_count == 0


def test_alias_that_resolves_to_nothing_names_scheme_and_path(net: Net) -> None:
    scheme = AliasScheme("broken", "x", rules=(AliasRule("q", "transformer.h.{layer}.attn.hook_out"),))
    with pytest.raises(
        ValueError,
        match="alias scheme 'broken': alias 'q' expects hook point 'transformer.h.{layer}.attn.hook_out', which Net does not have",
    ):
        attach(net, aliases=scheme)


def test_resetting_the_canonical_point_keeps_alias_hooks_working(net: Net, alias_plugin: str) -> None:
    hooked = attach(net, aliases="test_short")
    seen = []
    with hooked.hooks([("emb", lambda t, hook: seen.append(hook.name))]):
        hooked.hook_dict["embed.hook_out"].remove_hooks("fwd")  # non-permanent hooks only
        hooked(X)
    assert seen == ["emb"]
    assert hooked.torch_hook_count == 0 and not hooked.hook_dict["embed.hook_out"].fwd_hooks


class _Doubled(BaseTensorConversion):
    """A copying conversion: hooks see 2x, edits are halved back."""

    def handle_conversion(self, x: Tensor, *ctx: object) -> Tensor:
        return x * 2

    def handle_revert(self, x: Tensor, *ctx: object) -> Tensor:
        return x / 2


class _SplitInTwo(BaseTensorConversion):
    convert_returns_view = True

    def handle_conversion(self, x: Tensor, *ctx: object) -> Tensor:
        return x.unflatten(-1, (2, -1))

    def handle_revert(self, x: Tensor, *ctx: object) -> Tensor:
        return x.flatten(-2)


@pytest.mark.parametrize("alias_conversion", [_SplitInTwo(), None], ids=["view", "none"])
def test_in_place_alias_edit_reaches_a_canonical_point_whose_conversion_copies(
    alias_conversion: BaseTensorConversion | None,
) -> None:
    """The alias returns the canonical view itself after an in-place edit; the canonical point
    must still revert its own (copying) conversion (review finding)."""
    canonical = HookPoint(name="canon")
    canonical.enable_reshape(_Doubled())
    alias = AliasPoint("alias", canonical, alias_conversion, "test", None)

    def zero_first_half(t: Tensor, *, hook: object) -> Tensor:
        (t[..., 0, :] if t.ndim == 4 else t[..., :2]).zero_()  # head 0, or the same columns
        return t

    alias.add_hook(zero_first_half)
    assert torch.equal(canonical(torch.ones(1, 1, 4)), torch.tensor([[[0.0, 0.0, 1.0, 1.0]]]))
    alias.remove_hooks()
    alias.add_hook(lambda t, hook: None)  # a hook that returns nothing is not an edit
    x = torch.ones(1, 1, 4)
    assert canonical(x) is x
