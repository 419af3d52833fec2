"""HookedRootModule: names, handles, owned scopes, run_with_hooks, errors leave state unchanged."""

from __future__ import annotations

import pytest
import torch

from hookpoints import HookedRootModule, HookNameError, HookPoint, LensHandle, LensHandleGroup

from .conftest import Toy


def n_hooks(model: HookedRootModule) -> int:
    return sum(len(hp.fwd_hooks) + len(hp.bwd_hooks) for hp in model.hook_points())


def test_setup_names_modules_and_indexes_points(toy: Toy) -> None:
    assert list(toy.hook_dict) == ["hook_in", "inner.hook_mid", "hook_out"]
    assert toy.mod_dict["lin"] is toy.lin and toy.lin.name == "lin"
    assert toy.hook_dict["inner.hook_mid"].name == "inner.hook_mid"
    assert list(toy.hook_points()) == list(toy.hook_dict.values())


def test_missing_setup_is_explained() -> None:
    class Forgot(HookedRootModule):
        def __init__(self) -> None:
            super().__init__()
            self.hp = HookPoint()

    with pytest.raises(AttributeError, match=r"setup\(\)"):
        Forgot().hook_dict


def test_unknown_name_lists_close_matches_and_adds_nothing(toy: Toy) -> None:
    with pytest.raises(HookNameError) as info:
        toy.add_hook("inner.hook_mdi", lambda t, hook: None)
    assert "inner.hook_mid" in str(info.value) and info.value.suggestions[0] == "inner.hook_mid"
    assert isinstance(info.value, KeyError)  # old `except KeyError` keeps working
    assert n_hooks(toy) == 0


def test_adding_to_a_non_hook_module_is_type_error(toy: Toy) -> None:
    with pytest.raises(TypeError, match="'lin' is a Linear module"):
        toy.add_hook("lin", lambda t, hook: None)


@pytest.mark.parametrize(
    "target", [("hook_in", "hook_out"), ["hook_in", "hook_out"], {"hook_in", "hook_out"}]
)
def test_add_hook_accepts_any_iterable_of_names(toy: Toy, target: object) -> None:
    seen = []
    group = toy.add_hook(target, lambda t, hook: seen.append(hook.name))  # type: ignore[arg-type]
    assert isinstance(group, LensHandleGroup) and len(group) == 2
    toy(torch.ones(1, 3))
    assert sorted(seen) == ["hook_in", "hook_out"]


def test_group_handle_removes_exactly_its_hooks(toy: Toy) -> None:
    keep = toy.add_hook("hook_in", lambda t, hook: None)
    group = toy.add_hook(lambda n: n.startswith("hook"), lambda t, hook: None)
    assert n_hooks(toy) == 3
    group.remove()
    assert n_hooks(toy) == 1 and not keep.removed and group.removed


def test_single_name_returns_lens_handle(toy: Toy) -> None:
    handle = toy.add_hook("hook_out", lambda t, hook: t * 0)
    assert isinstance(handle, LensHandle)
    assert torch.equal(toy(torch.ones(1, 3)), torch.zeros(1, 3))
    with handle:
        pass
    assert not torch.equal(toy(torch.ones(1, 3)), torch.zeros(1, 3))


def test_filter_matching_nothing_warns(toy: Toy) -> None:
    with pytest.warns(UserWarning, match="matched no hook point"):
        group = toy.add_hook(lambda n: False, lambda t, hook: None)
    assert len(group) == 0


def test_check_hooks_to_add_vetoes_add_hook_only_and_leaves_state_unchanged() -> None:
    class Picky(Toy):
        def check_hooks_to_add(
            self, hook_point, hook_point_name, hook, dir="fwd", is_permanent=False, prepend=False
        ):  # type: ignore[no-untyped-def]
            if hook_point_name == "hook_out":
                raise ValueError("no hooks on hook_out")

    model = Picky()
    with pytest.raises(ValueError, match="no hooks on hook_out"):
        model.add_hook(lambda n: True, lambda t, hook: None)
    assert n_hooks(model) == 0
    # As in TransformerLens, only add_hook consults check_hooks_to_add: scopes attach anyway.
    with model.hooks([("hook_in", lambda t, hook: None), ("hook_out", lambda t, hook: None)]):
        assert n_hooks(model) == 2
    assert n_hooks(model) == 0 and model.context_level == 0
    _, cache = model.run_with_cache(torch.ones(1, 3))
    assert set(cache) == {"hook_in", "inner.hook_mid", "hook_out"} and n_hooks(model) == 0


def test_hooks_scope_removes_only_its_own_hooks(toy: Toy) -> None:
    outside = toy.add_hook("hook_in", lambda t, hook: None)
    with toy.hooks(fwd_hooks=[("hook_in", lambda t, hook: None)]) as model:
        assert model is toy and len(toy.hook_in.fwd_hooks) == 2 and toy.context_level == 1
    assert toy.hook_in.fwd_hooks == [outside] and toy.context_level == 0


def test_kept_hooks_survive_later_unrelated_scopes(toy: Toy) -> None:
    calls = []
    with toy.hooks(fwd_hooks=[("hook_in", lambda t, hook: calls.append(1))], reset_hooks_end=False):
        pass
    with toy.hooks(fwd_hooks=[("hook_out", lambda t, hook: None)]):
        pass
    with toy.hooks():
        pass
    toy(torch.ones(1, 3))
    assert calls == [1]  # TransformerLens would have removed it at the second block's exit
    toy.reset_hooks()
    assert n_hooks(toy) == 0


def test_add_hook_with_explicit_level_leaves_with_that_scope(toy: Toy) -> None:
    with toy.hooks():
        toy.add_hook("hook_in", lambda t, hook: None, level=toy.context_level)
        toy.add_hook("hook_out", lambda t, hook: None)  # no level: stays (as in TL)
    assert toy.hook_in.fwd_hooks == [] and len(toy.hook_out.fwd_hooks) == 1


def test_nested_scopes(toy: Toy) -> None:
    with toy.hooks([("hook_in", lambda t, hook: None)]):
        with toy.hooks([("hook_in", lambda t, hook: None)]):
            assert [h.context_level for h in toy.hook_in.fwd_hooks] == [1, 2]
        assert [h.context_level for h in toy.hook_in.fwd_hooks] == [1]
    assert toy.hook_in.fwd_hooks == []


def test_scope_exit_on_exception_removes_hooks(toy: Toy) -> None:
    with pytest.raises(RuntimeError), toy.hooks([("hook_in", lambda t, hook: None)]):
        raise RuntimeError
    assert n_hooks(toy) == 0 and toy.context_level == 0


def test_unknown_name_in_scope_adds_nothing(toy: Toy) -> None:
    with (
        pytest.raises(HookNameError),
        toy.hooks([("hook_in", print), ("hook_nope", print)], reset_hooks_end=False),
    ):
        pass
    assert n_hooks(toy) == 0 and toy.context_level == 0


def test_reset_hooks_level_and_permanent(toy: Toy) -> None:
    toy.add_perma_hook("hook_in", lambda t, hook: None)
    toy.add_hook("hook_in", lambda t, hook: None, level=3)
    toy.add_hook("hook_in", lambda t, hook: None)
    toy.reset_hooks(level=3)
    assert [(h.is_permanent, h.context_level) for h in toy.hook_in.fwd_hooks] == [(True, None), (False, None)]
    toy.reset_hooks()
    assert [h.is_permanent for h in toy.hook_in.fwd_hooks] == [True]
    toy.reset_hooks(including_permanent=True)
    assert n_hooks(toy) == 0


def test_reset_hooks_clears_contexts_by_default(toy: Toy) -> None:
    toy.hook_in.ctx["x"] = 1
    toy.reset_hooks(clear_contexts=False)
    assert toy.hook_in.ctx == {"x": 1}
    toy.reset_hooks()
    assert toy.hook_in.ctx == {}


def test_remove_all_hook_fns_direction(toy: Toy) -> None:
    toy.add_hook("hook_in", lambda t, hook: None)
    toy.add_hook("hook_in", lambda t, hook: None, dir="bwd")
    toy.remove_all_hook_fns("bwd")
    assert len(toy.hook_in.fwd_hooks) == 1 and toy.hook_in.bwd_hooks == []
    with pytest.raises(ValueError, match="direction"):
        toy.remove_all_hook_fns("up")  # type: ignore[arg-type]


def test_run_with_hooks_patches_then_cleans_up(toy: Toy) -> None:
    x = torch.ones(1, 3)
    clean = toy(x)
    patched = toy.run_with_hooks(x, fwd_hooks=[("inner.hook_mid", lambda t, hook: torch.zeros_like(t))])
    assert torch.equal(patched, torch.zeros(1, 3))
    assert torch.equal(toy(x), clean) and n_hooks(toy) == 0


def test_run_with_hooks_backward_hooks_fire_after_return(toy: Toy) -> None:
    seen = []
    x = torch.ones(1, 3)
    out = toy.run_with_hooks(x, bwd_hooks=[("hook_out", lambda g, hook: seen.append(g.clone()))])
    assert n_hooks(toy) == 0
    out.sum().backward()
    assert len(seen) == 1 and torch.equal(seen[0], torch.ones(1, 3))


def test_run_with_hooks_predicate_targets(toy: Toy) -> None:
    seen = []
    toy.run_with_hooks(
        torch.ones(1, 3), fwd_hooks=[(lambda n: "mid" in n, lambda t, hook: seen.append(hook.name))]
    )
    assert seen == ["inner.hook_mid"]


def test_clear_contexts_option_on_scope_exit(toy: Toy) -> None:
    def remember(t: torch.Tensor, *, hook: HookPoint) -> None:
        hook.ctx["seen"] = True

    toy.run_with_hooks(torch.ones(1, 3), fwd_hooks=[("hook_in", remember)])
    assert toy.hook_in.ctx == {"seen": True}
    toy.run_with_hooks(torch.ones(1, 3), fwd_hooks=[("hook_in", remember)], clear_contexts=True)
    assert toy.hook_in.ctx == {}


def test_list_hooks(toy: Toy) -> None:
    a = toy.add_hook("hook_in", lambda t, hook: None)
    b = toy.add_perma_hook("hook_out", lambda t, hook: None, dir="bwd")
    assert toy.list_hooks() == {"hook_in": [a], "hook_out": [b]}
    assert toy.list_hooks(("hook_out",)) == {"hook_out": [b]}
    assert toy.list_hooks(dir="fwd") == {"hook_in": [a]}
    assert toy.list_hooks(including_permanent=False) == {"hook_in": [a]}
    assert toy.list_hooks(lambda n: n.endswith("out"), dir="fwd") == {}
    with pytest.raises(ValueError):
        toy.list_hooks(dir="up")  # type: ignore[arg-type]


def test_names_filter_rejects_non_strings(toy: Toy) -> None:
    with pytest.raises(TypeError, match="hook names"):
        toy.run_with_cache(torch.ones(1, 3), names_filter=[1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="names_filter"):
        toy.run_with_cache(torch.ones(1, 3), names_filter=3)  # type: ignore[arg-type]
