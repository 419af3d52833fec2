"""Behaviours TransformerLens 3.9 code relies on, matched exactly (see docs/coming-from-transformerlens.md).

Each was found by running TransformerLens's own test suite and SAELens on hookpoints
(``nox -s tl-suite``); these tests pin them with core alone.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from hookpoints import ActivationCache, HookedRootModule, HookNameError, HookPoint, LensHandle, Slice
from hookpoints.examples import TinyGPT

from .conftest import Toy


def test_run_with_cache_returns_a_dict(toy: Toy) -> None:
    _, cache = toy.run_with_cache(torch.ones(1, 3))
    assert isinstance(cache, dict) and isinstance(cache, ActivationCache)
    assert cache.cache_dict is cache and set(cache) == {"hook_in", "inner.hook_mid", "hook_out"}
    with pytest.raises(HookNameError, match="did you mean 'hook_out'"):
        cache["hook_outt"]
    assert cache.get("hook_outt") is None  # dict methods keep dict semantics
    again = pickle.loads(pickle.dumps(cache))
    assert isinstance(again, ActivationCache) and again.model is None
    assert torch.equal(again["hook_out"], cache["hook_out"])


def test_cache_wraps_like_transformerlens() -> None:
    raw = {"a": torch.ones(1, 2)}
    cache = ActivationCache(raw, has_batch_dim=True)
    assert cache == raw and cache is not raw and cache.remove_batch_dim()["a"].shape == (2,)


@pytest.mark.parametrize(
    ("pos_slice", "index"),
    [
        (2, [2]),
        (-1, [5]),
        ((1, 4), [1, 2, 3]),
        ((0, 6, 2), [0, 2, 4]),
        ([-1], [5]),
        ([0, -2], [0, 4]),
        (torch.tensor([1, 3]), [1, 3]),
        (Slice(2), None),  # an explicit Slice(int) drops the dimension, as in TransformerLens
        (Slice([1, 2]), [1, 2]),
    ],
)
def test_pos_slice_matches_transformerlens(
    gpt: TinyGPT, tokens: Tensor, pos_slice: object, index: object
) -> None:
    names = ["blocks.0.hook_resid_pre", "blocks.0.attn.hook_z", "blocks.0.attn.hook_q"]
    _, full = gpt.run_with_cache(tokens, names_filter=names)
    _, sliced = gpt.run_with_cache(tokens, names_filter=names, pos_slice=pos_slice)
    for name in names:
        # per-head points ([batch, pos, head, d]) are sliced on dim 1, the others on dim 1 too
        expected = full[name][:, 2] if index is None else full[name][:, index]
        assert torch.equal(sliced[name], expected), name


def test_per_head_points_follow_transformerlens_name_rule() -> None:
    class PerHead(HookedRootModule):
        def __init__(self) -> None:
            super().__init__()
            self.hook_z = HookPoint()  # no pos_dim given: named like TL's per-head points
            self.hook_result = HookPoint()
            self.hook_scores = HookPoint()  # [batch, head, query, key]: -2 (the query positions)
            self.setup()

        def forward(self, x: Tensor) -> Tensor:
            self.hook_scores(x.permute(0, 2, 1, 3))
            return self.hook_result(self.hook_z(x))

    x = torch.randn(2, 5, 3, 4)  # [batch, pos, head, d]
    _, cache = PerHead().run_with_cache(x, pos_slice=[4])
    assert torch.equal(cache["hook_z"], x[:, [4]]) and torch.equal(cache["hook_result"], x[:, [4]])
    assert torch.equal(cache["hook_scores"], x.permute(0, 2, 1, 3)[:, :, [4]])


def test_foreign_slice_objects_are_accepted(gpt: TinyGPT, tokens: Tensor) -> None:
    class TLSlice:  # the shape of transformer_lens.utilities.Slice (array mode holds numpy)
        def __init__(self, mode: str, value: object) -> None:
            self.mode, self.slice = mode, value

    import numpy as np

    _, full = gpt.run_with_cache(tokens, names_filter="hook_embed")
    _, picked = gpt.run_with_cache(
        tokens, names_filter="hook_embed", pos_slice=TLSlice("array", np.array([0, -1]))
    )
    assert torch.equal(picked["hook_embed"], full["hook_embed"][:, [0, 5]])


def test_lens_handle_is_transformerlens_dataclass_shaped() -> None:
    hp = HookPoint()
    torch_handle = hp.register_forward_hook(lambda m, a, o: o + 1)
    record = LensHandle(hook=torch_handle, is_permanent=True, context_level=3, user_hook=print)
    assert (record.hook, record.is_permanent, record.context_level, record.user_hook) == (
        torch_handle,
        True,
        3,
        print,
    )
    assert torch.equal(hp(torch.zeros(1)), torch.ones(1))
    record.remove()
    assert torch.equal(hp(torch.zeros(1)), torch.zeros(1)) and record.removed


def test_handle_hook_is_a_torch_removable_handle() -> None:
    hp = HookPoint()
    first = hp.add_hook(lambda t, hook: t + 1)
    second = hp.add_hook(lambda t, hook: t * 10)
    assert isinstance(first.hook, RemovableHandle) and first.hook is first.hook
    assert first.hook.id != second.hook.id
    second.hook.remove()  # TransformerLens code removes hooks through the torch handle
    assert hp.fwd_hooks == [first] and torch.equal(hp(torch.zeros(1)), torch.ones(1))
    with first.hook:
        pass
    assert hp.fwd_hooks == [] and first.removed


def test_transformerlens_private_enable_helpers_attach_at_the_context_level(toy: Toy) -> None:
    calls: list[str] = []
    with toy.hooks():
        assert toy.context_level == 1
        handle = toy._enable_hook("hook_in", lambda t, hook: calls.append(hook.name), "fwd")
        group = toy._enable_hook(lambda n: n.endswith("out"), lambda t, hook: calls.append(hook.name), "fwd")
        assert handle.context_level == 1 and [h.context_level for h in group] == [1]
        toy(torch.ones(1, 3))
    assert calls == ["hook_in", "hook_out"]
    assert toy.hook_in.fwd_hooks == [] and toy.hook_out.fwd_hooks == []  # left with the level-1 block


def test_point_add_hook_with_level_leaves_with_that_block(toy: Toy) -> None:
    with toy.hooks():
        inner = toy.hook_in.add_hook(lambda t, hook: None, level=toy.context_level)
        kept = toy.hook_in.add_hook(lambda t, hook: None)  # no level: stays, as in TransformerLens
    assert inner.removed and not kept.removed and toy.hook_in.fwd_hooks == [kept]


class Densifying(HookPoint):
    """Like SAELens's SparseHookPoint: its forward depends on whether torch hooks are attached."""

    def __init__(self) -> None:
        super().__init__()
        self.forward_calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.forward_calls += 1
        using_hooks = bool(self._forward_hooks) or bool(self._backward_hooks)
        return x * 2 if using_hooks else x


def test_subclass_forward_runs_unhooked_and_hooked() -> None:
    hp = Densifying()
    x = torch.ones(3)
    assert torch.equal(hp(x), x) and hp.forward_calls == 1  # never bypassed, even at rest
    seen: list[Tensor] = []
    handle = hp.add_hook(lambda t, hook: seen.append(t.clone()))
    assert torch.equal(hp(x), x * 2) and hp.forward_calls == 2
    assert torch.equal(seen[0], x * 2)  # hooks see the forward's output, as in TransformerLens
    replaced = hp.add_hook(lambda t, hook: t + 1)
    assert torch.equal(hp(x), x * 2 + 1)
    handle.remove()
    replaced.remove()
    assert torch.equal(hp(x), x) and not hp._forward_hooks  # no torch hook left behind


def test_subclass_forward_backward_hooks_fire() -> None:
    hp = Densifying()
    grads: list[Tensor] = []
    hp.add_hook(lambda g, hook: grads.append(g), dir="bwd")
    x = torch.ones(3, requires_grad=True)
    out = hp(x)
    assert hp.forward_calls == 1 and torch.equal(out.detach(), x.detach() * 2)  # hooked: densified
    out.sum().backward()
    assert (
        len(grads) == 1
        and torch.equal(grads[0], torch.ones(3))
        and torch.equal(x.grad, torch.full((3,), 2.0))
    )


def test_subclass_forward_in_a_model_caches_and_patches() -> None:
    class Model(HookedRootModule):
        def __init__(self) -> None:
            super().__init__()
            self.hook_sparse = Densifying()
            self.setup()

        def forward(self, x: Tensor) -> Tensor:
            return self.hook_sparse(x) + 1

    model = Model()
    x = torch.ones(2)
    _, cache = model.run_with_cache(x)
    assert torch.equal(cache["hook_sparse"], x * 2)
    patched = model.run_with_hooks(x, fwd_hooks=[("hook_sparse", lambda t, hook: t * 0)])
    assert torch.equal(patched, torch.ones(2)) and torch.equal(model(x), x + 1)


def test_subclass_calling_super_forward_is_identity_there() -> None:
    class Scaled(HookPoint):
        def forward(self, x: Tensor) -> Tensor:
            return super().forward(x) * 3

    hp = Scaled()
    calls: list[int] = []
    hp.add_hook(lambda t, hook: calls.append(1))
    assert torch.equal(hp(torch.ones(1)), torch.full((1,), 3.0)) and calls == [1]  # hooks fire once


def test_interop_install_serves_hookpoints_under_transformerlens_names(tmp_path: Path) -> None:
    fake = tmp_path / "transformer_lens"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "from .hook_points import HookPoint\nfrom .HookedRootModule import HookedRootModule\n"
    )
    code = textwrap.dedent(
        """
        import warnings
        import hookpoints
        from hookpoints.interop import transformer_lens as shim
        shim.install()
        assert shim.is_installed()
        import transformer_lens
        from transformer_lens.hook_points import HookPoint, LensHandle
        from transformer_lens.HookedRootModule import HookedRootModule
        assert HookPoint is hookpoints.HookPoint and LensHandle is hookpoints.LensHandle
        assert issubclass(HookedRootModule, hookpoints.HookedRootModule)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            HookedRootModule()
        assert "deprecated" in str(caught[0].message)
        shim.uninstall()
        assert not shim.is_installed()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_interop_install_refuses_after_transformerlens_loaded(tmp_path: Path) -> None:
    fake = tmp_path / "transformer_lens"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "hook_points.py").write_text("")
    code = (
        "import transformer_lens.hook_points\n"
        "from hookpoints.interop import transformer_lens as shim\n"
        "try:\n    shim.install()\nexcept RuntimeError as e:\n    assert 'before transformer_lens' in str(e)\n"
        "else:\n    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_public_annotations_resolve_at_runtime() -> None:
    """Runtime type checkers (beartype, as TransformerLens's suite applies to its hook classes) can read them."""
    import inspect
    import typing

    from hookpoints.core.introspection import HookIntrospectionMixin

    unresolved = []
    for cls in (HookPoint, HookIntrospectionMixin, HookedRootModule, ActivationCache, Slice):
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if fn.__module__.startswith("hookpoints"):
                try:
                    typing.get_type_hints(fn)
                except NameError as exc:
                    unresolved.append(f"{cls.__name__}.{name}: {exc}")
    assert unresolved == []
