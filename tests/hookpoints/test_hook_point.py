"""HookPoint behaviour: dispatch, ordering, editing, errors, torch interplay."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from hookpoints import (
    BaseTensorConversion,
    HookPoint,
    HookShapeError,
    LensHandle,
    NonInvertibleConversionError,
)
from hookpoints.conversions.base import ChainConversion, IdentityConversion, identity_revert_of
from hookpoints.core.hook_point import DispatchMode


def test_unhooked_point_is_identity_and_returns_same_object() -> None:
    hp = HookPoint()
    x = torch.randn(2, 3)
    assert hp(x) is x


def test_forward_hook_sees_activation_and_point() -> None:
    hp = HookPoint(name="p")
    seen = []
    hp.add_hook(lambda t, hook: seen.append((t.clone(), hook)))
    x = torch.randn(2, 3)
    hp(x)
    assert torch.equal(seen[0][0], x) and seen[0][1] is hp


def test_forward_hooks_chain_and_prepend_runs_first() -> None:
    hp = HookPoint()
    order = []
    hp.add_hook(lambda t, hook: (order.append("a"), t + 1)[1])
    hp.add_hook(lambda t, hook: (order.append("b"), t * 10)[1])
    hp.add_hook(lambda t, hook: (order.append("first"), None)[1], prepend=True)
    out = hp(torch.zeros(2))
    assert order == ["first", "a", "b"]
    assert torch.equal(out, torch.full((2,), 10.0))


def test_add_hook_returns_handle_that_removes_only_its_hook() -> None:
    hp = HookPoint()
    calls = []
    h1 = hp.add_hook(lambda t, hook: calls.append(1))
    hp.add_hook(lambda t, hook: calls.append(2))
    assert isinstance(h1, LensHandle)
    h1.remove()
    h1.remove()  # idempotent
    hp(torch.zeros(1))
    assert calls == [2]
    assert h1.removed and len(hp.fwd_hooks) == 1


def test_handle_as_context_manager() -> None:
    hp = HookPoint()
    calls = []
    with hp.add_hook(lambda t, hook: calls.append(1)):
        hp(torch.zeros(1))
    hp(torch.zeros(1))
    assert calls == [1]
    assert hp(torch.zeros(1)) is not None and not hp.fwd_hooks


def test_tl_handle_hook_remove_still_works() -> None:
    hp = HookPoint()
    handle = hp.add_hook(lambda t, hook: None)
    handle.hook.remove()
    assert hp.fwd_hooks == []


def test_permanent_hooks_survive_remove_hooks_unless_asked() -> None:
    hp = HookPoint()
    hp.add_perma_hook(lambda t, hook: None)
    hp.add_hook(lambda t, hook: None)
    hp.remove_hooks("fwd")
    assert [h.is_permanent for h in hp.fwd_hooks] == [True]
    hp.remove_hooks("fwd", including_permanent=True)
    assert hp.fwd_hooks == []


def test_remove_hooks_including_permanent_honours_level() -> None:
    hp = HookPoint()
    hp.add_hook(lambda t, hook: None, is_permanent=True, level=1)
    hp.add_hook(lambda t, hook: None, is_permanent=True, level=2)
    hp.add_hook(lambda t, hook: None, level=2)
    hp.remove_hooks("fwd", including_permanent=True, level=2)
    assert [h.context_level for h in hp.fwd_hooks] == [1]


def test_remove_hooks_level_keeps_other_levels() -> None:
    hp = HookPoint()
    hp.add_hook(lambda t, hook: None, level=1)
    hp.add_hook(lambda t, hook: None, level=2)
    hp.remove_hooks("fwd", level=1)
    assert [h.context_level for h in hp.fwd_hooks] == [2]


def test_has_hooks_filters() -> None:
    hp = HookPoint()
    assert not hp.has_hooks()
    hp.add_perma_hook(lambda t, hook: None, dir="bwd")
    assert hp.has_hooks("bwd") and not hp.has_hooks("fwd")
    assert not hp.has_hooks(including_permanent=False)


@pytest.mark.parametrize("bad", ["forward", "both", "", None])
def test_invalid_dir_is_value_error_and_adds_nothing(bad: object) -> None:
    hp = HookPoint()
    with pytest.raises(ValueError, match="'fwd' or 'bwd'"):
        hp.add_hook(lambda t, hook: None, dir=bad)  # type: ignore[arg-type]
    assert not hp.has_hooks()


def test_remove_hooks_invalid_dir_changes_nothing() -> None:
    hp = HookPoint()
    hp.add_hook(lambda t, hook: None)
    with pytest.raises(ValueError, match="'both'"):
        hp.remove_hooks("sideways")  # type: ignore[arg-type]
    assert len(hp.fwd_hooks) == 1


def test_non_callable_hook_is_type_error_at_add_time() -> None:
    hp = HookPoint(name="p")
    with pytest.raises(TypeError, match="'p'.*callable"):
        hp.add_hook("not a function")  # type: ignore[arg-type]
    assert not hp.has_hooks()


def test_wrong_shape_return_raises_at_the_point_naming_everything() -> None:
    hp = HookPoint(name="blocks.0.hook_x")

    def shrink(t: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
        return t[:, :2]

    hp.add_hook(shrink)
    with pytest.raises(HookShapeError) as info:
        hp(torch.zeros(4, 3))
    msg = str(info.value)
    assert "blocks.0.hook_x" in msg and "shrink" in msg and "(4, 2)" in msg and "(4, 3)" in msg


def test_non_tensor_return_is_an_error() -> None:
    hp = HookPoint(name="p")
    hp.add_hook(lambda t, hook: [t])
    with pytest.raises(HookShapeError, match="returned list"):
        hp(torch.zeros(2))


def test_check_shape_opt_out_allows_shape_change() -> None:
    hp = HookPoint(check_shape=False)
    hp.add_hook(lambda t, hook: t[:1])
    assert hp(torch.zeros(3, 2)).shape == (1, 2)


def test_hook_exception_is_annotated_with_point_and_hook() -> None:
    hp = HookPoint(name="p")

    def boom(t: torch.Tensor, *, hook: HookPoint) -> None:
        raise RuntimeError("inner")

    hp.add_hook(boom)
    with pytest.raises(RuntimeError, match="inner") as info:
        hp(torch.zeros(1))
    assert any("boom" in n and "'p'" in n for n in getattr(info.value, "__notes__", []))


class Exploding:
    """A hook whose repr raises (TransformerLens called repr() at add time)."""

    def __call__(self, t: torch.Tensor, *, hook: HookPoint) -> None:
        return None

    def __repr__(self) -> str:
        raise RuntimeError("repr must not be called")


def test_hook_repr_is_never_called() -> None:
    hp = HookPoint(name="p")
    handle = hp.add_hook(Exploding())
    hp(torch.zeros(1))
    assert "Exploding" in repr(handle) and handle.hook_name == "<Exploding object>"


def test_partial_hook_name_does_not_repr_arguments() -> None:
    big = Exploding()

    def f(t: torch.Tensor, payload: object, *, hook: HookPoint) -> None:
        return None

    handle = HookPoint(name="p").add_hook(functools.partial(f, payload=big))
    assert handle.hook_name.startswith("partial(") and "f" in handle.hook_name


def test_repr_counts_hooks() -> None:
    hp = HookPoint(name="p")
    assert repr(hp) == "HookPoint(name='p')"
    hp.add_hook(lambda t, hook: None)
    hp.add_hook(lambda t, hook: None, dir="bwd")
    hp.add_hook(lambda t, hook: None, dir="bwd")
    assert repr(hp) == "HookPoint(name='p', 1 fwd, 2 bwd)"
    assert repr(HookPoint()) == "HookPoint()"


def test_ctx_persists_and_clear_context_empties_it() -> None:
    hp = HookPoint()

    def count(t: torch.Tensor, *, hook: HookPoint) -> None:
        hook.ctx["n"] = hook.ctx.get("n", 0) + 1

    hp.add_hook(count)
    hp(torch.zeros(1))
    hp(torch.zeros(1))
    assert hp.ctx == {"n": 2}
    hp.clear_context()
    assert hp.ctx == {}


@pytest.mark.parametrize(
    ("name", "layer"), [("blocks.3.attn.hook_q", 3), ("transformer.h.11.mlp", 11), ("0.x", 0)]
)
def test_layer_reads_first_index(name: str, layer: int) -> None:
    assert HookPoint(name=name).layer() == layer


@pytest.mark.parametrize("name", ["hook_embed", "ln_final.hook_scale", None])
def test_layer_without_index_is_value_error_quoting_name(name: str | None) -> None:
    with pytest.raises(ValueError) as info:
        HookPoint(name=name).layer()
    if name is not None:
        assert repr(name) in str(info.value)


def test_alias_names_call_hook_once_per_alias_with_that_name() -> None:
    hp = HookPoint(name="canonical")
    names = []
    hp.add_hook(
        lambda t, hook: names.append((hook.name, hook.layer(), hook.ctx is hp.ctx)),
        alias_names=["blocks.1.a", "blocks.2.b"],
    )
    hp(torch.zeros(1))
    assert names == [("blocks.1.a", 1, True), ("blocks.2.b", 2, True)]


def test_alias_names_must_be_strings() -> None:
    with pytest.raises(TypeError, match="alias_names"):
        HookPoint().add_hook(lambda t, hook: None, alias_names=[1])  # type: ignore[list-item]


# ---------------------------------------------------------------- conversions
class SplitHeads(BaseTensorConversion):
    def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        return x.reshape(*x.shape[:-1], 2, x.shape[-1] // 2)

    def handle_revert(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        return x.reshape(*x.shape[:-2], -1)


class ReadOnly(BaseTensorConversion):
    def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        return x * 1


def test_enable_reshape_hook_sees_view_and_edit_is_reverted() -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape(SplitHeads())
    shapes = []

    def zero_head_1(t: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
        shapes.append(tuple(t.shape))
        t = t.clone()
        t[..., 1, :] = 0
        return t

    hp.add_hook(zero_head_1)
    x = torch.arange(8.0).reshape(2, 4)
    out = hp(x)
    assert shapes == [(2, 2, 2)]
    assert torch.equal(out, torch.tensor([[0.0, 1, 0, 0], [4, 5, 0, 0]]))


def test_conversion_runs_once_per_forward_with_many_hooks() -> None:
    calls = []

    class Counting(SplitHeads):
        def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            calls.append(1)
            return super().handle_conversion(x)

    hp = HookPoint()
    hp.enable_reshape(Counting())
    for _ in range(3):
        hp.add_hook(lambda t, hook: None)
    hp(torch.zeros(2, 4))
    assert calls == [1]


def test_read_only_conversion_refuses_edits_instead_of_identity() -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape(ReadOnly())
    hp.add_hook(lambda t, hook: None)
    hp(torch.ones(2))  # reading is fine
    hp.add_hook(lambda t, hook: t * 0)
    with pytest.raises(NonInvertibleConversionError, match="'p'.*ReadOnly"):
        hp(torch.ones(2))


def test_duck_typed_tl_conversion_works() -> None:
    class Doubler:
        def convert(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

        def revert(self, x: torch.Tensor) -> torch.Tensor:
            return x / 2

    hp = HookPoint()
    hp.enable_reshape(Doubler())
    seen = []
    hp.add_hook(lambda t, hook: (seen.append(t.clone()), t + 2)[1])
    out = hp(torch.ones(2))
    assert torch.equal(seen[0], torch.full((2,), 2.0)) and torch.equal(out, torch.full((2,), 2.0))


class CountingViewSplit(SplitHeads):
    """A split that is always a view and counts its reverts."""

    convert_returns_view = True

    def __init__(self) -> None:
        super().__init__()
        self.reverts = 0

    def handle_revert(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        self.reverts += 1
        return super().handle_revert(x)


def _zero_head_1_in_place(t: torch.Tensor, *, hook: object) -> torch.Tensor:
    t[..., 1, :] = 0  # TransformerLens's canonical head ablation: edit in place, return it
    return t


def test_in_place_edit_returned_through_a_view_conversion_skips_revert() -> None:
    conversion = CountingViewSplit()
    hp = HookPoint(name="p")
    hp.enable_reshape(conversion)
    hp.add_hook(_zero_head_1_in_place)
    x = torch.arange(8.0).reshape(2, 4)
    out = hp(x)
    assert out is x and conversion.reverts == 0
    assert torch.equal(out, torch.tensor([[0.0, 1, 0, 0], [4, 5, 0, 0]]))
    hp.add_hook(lambda t, hook: t * 2)  # a new tensor: revert runs as before
    out = hp(torch.arange(8.0).reshape(2, 4))
    assert conversion.reverts == 1
    assert torch.equal(out, torch.tensor([[0.0, 2, 0, 0], [8, 10, 0, 0]]))


def test_in_place_shortcut_needs_the_conversion_to_claim_views() -> None:
    class NoClaim(CountingViewSplit):
        convert_returns_view = False

    conversion = NoClaim()
    hp = HookPoint(name="p")
    hp.enable_reshape(conversion)
    hp.add_hook(_zero_head_1_in_place)
    out = hp(torch.arange(8.0).reshape(2, 4))
    assert conversion.reverts == 1
    assert torch.equal(out, torch.tensor([[0.0, 1, 0, 0], [4, 5, 0, 0]]))


def test_in_place_shortcut_keeps_gradients_equal_to_the_hand_edit() -> None:
    weight = torch.arange(1.0, 9.0).reshape(2, 4)
    hp = HookPoint(name="p")
    hp.enable_reshape(CountingViewSplit())
    hp.add_hook(_zero_head_1_in_place)
    leaf = torch.ones(2, 4, requires_grad=True)
    (hp(leaf * 3) * weight).sum().backward()
    by_hand = torch.ones(2, 4, requires_grad=True)
    edited = by_hand * 3
    edited.unflatten(-1, (2, 2))[..., 1, :] = 0
    (edited * weight).sum().backward()
    assert torch.equal(leaf.grad, by_hand.grad)


def test_in_place_backward_edit_through_a_view_conversion_lands_in_the_gradient() -> None:
    conversion = CountingViewSplit()
    hp = HookPoint(name="p")
    hp.enable_reshape(conversion)
    hp.add_hook(_zero_head_1_in_place, dir="bwd")
    x = torch.ones(2, 4, requires_grad=True)
    (hp(x * 1) * torch.arange(1.0, 9.0).reshape(2, 4)).sum().backward()
    assert conversion.reverts == 0
    assert torch.equal(x.grad, torch.tensor([[1.0, 2, 0, 0], [5, 6, 0, 0]]))


def test_read_only_conversion_claiming_views_still_refuses_returned_values() -> None:
    class ReadOnlyView(ReadOnly):
        convert_returns_view = True
        invertible = False

        def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x.view_as(x)

    hp = HookPoint(name="p")
    hp.enable_reshape(ReadOnlyView())
    hp.add_hook(lambda t, hook: t)
    with pytest.raises(NonInvertibleConversionError, match="'p'"):
        hp(torch.ones(2))


def test_conversion_set_directly_tl_style_gets_the_original_on_revert() -> None:
    hp = HookPoint()
    hp.hook_conversion = SelectFirstHalf()  # TransformerLens code assigns the attribute
    hp.add_hook(lambda t, hook: t * 0)
    assert torch.equal(hp(torch.arange(1.0, 5.0)), torch.tensor([0.0, 0.0, 3.0, 4.0]))
    hp.hook_conversion = None
    assert torch.equal(hp(torch.arange(1.0, 5.0)), torch.zeros(4))


_TL_STEPS = "transformer_lens.conversion_utils.conversion_steps"


def _tl_default_revert(self: object, input_value: torch.Tensor, *full_context: object) -> torch.Tensor:
    return input_value  # TransformerLens's BaseTensorConversion.revert: the identity


_tl_default_revert.__qualname__ = "BaseTensorConversion.revert"
_tl_default_revert.__module__ = f"{_TL_STEPS}.base_tensor_conversion"


class _TLBase:
    """Stands in for TransformerLens's BaseTensorConversion (same names, no import)."""

    __module__ = f"{_TL_STEPS}.base_tensor_conversion"
    revert = _tl_default_revert

    def convert(self, input_value: torch.Tensor, *full_context: object) -> torch.Tensor:
        return self.handle_conversion(input_value)  # type: ignore[attr-defined, no-any-return]


class _TLSplit(_TLBase):
    __module__ = f"{_TL_STEPS}.split_tensor_conversion"

    def handle_conversion(self, x: torch.Tensor) -> torch.Tensor:
        return torch.chunk(x, 2, dim=-1)[0]


class _TLChain(_TLBase):
    __module__ = f"{_TL_STEPS}.chain_tensor_conversion"

    def __init__(self, conversions: list[object]) -> None:
        self.conversions = conversions

    def handle_conversion(self, x: torch.Tensor) -> torch.Tensor:
        for step in self.conversions:
            x = step.convert(x)  # type: ignore[attr-defined]
        return x

    def revert(self, x: torch.Tensor, *full_context: object) -> torch.Tensor:  # type: ignore[override]
        for step in reversed(self.conversions):
            x = step.revert(x, *full_context)  # type: ignore[attr-defined]
        return x


@pytest.mark.parametrize(
    "conversion",
    [_TLSplit(), _TLChain([_TLSplit()]), ChainConversion([_TLSplit()])],
    ids=["split", "tl-chain", "hookpoints-chain"],
)
def test_transformerlens_identity_revert_is_read_only_not_a_silent_no_op(conversion: object) -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape(conversion)
    seen = []
    hp.add_hook(lambda t, hook: seen.append(t.clone()))
    x = torch.arange(4.0)
    assert hp(x) is x and torch.equal(seen[0], torch.tensor([0.0, 1.0]))  # reading works
    hp.add_hook(lambda t, hook: t * 0)
    with pytest.raises(
        NonInvertibleConversionError, match="'p'.*_TLSplit keeps TransformerLens's default revert"
    ):
        hp(x)
    assert torch.equal(x, torch.arange(4.0)) and len(hp.fwd_hooks) == 2


class _TLAutoLike(_TLBase):
    """Like TransformerLens's attention auto-conversion on a 3-D input: convert returns x itself."""

    __module__ = f"{_TL_STEPS}.attention_auto_conversion"

    def handle_conversion(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_transformerlens_identity_revert_is_right_when_convert_returned_the_activation() -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape(_TLAutoLike())
    hp.add_hook(lambda t, hook: t * 0)
    assert torch.equal(hp(torch.ones(1, 3, 4)), torch.zeros(1, 3, 4))


def test_only_transformer_lens_itself_counts_as_transformerlens() -> None:
    def lookalike_revert(self: object, input_value: torch.Tensor, *full_context: object) -> torch.Tensor:
        return input_value

    lookalike_revert.__qualname__ = "BaseTensorConversion.revert"
    lookalike_revert.__module__ = "transformer_lensish.base"
    lookalike = type(
        "Lookalike", (_TLSplit,), {"revert": lookalike_revert, "__module__": "transformer_lensish"}
    )
    assert identity_revert_of(lookalike()) is None
    assert identity_revert_of(_TLSplit()) == "_TLSplit"


def test_identity_revert_search_survives_cycles_and_odd_attributes() -> None:
    class Odd:
        def convert(self, x: torch.Tensor) -> torch.Tensor:
            return x

        def revert(self, x: torch.Tensor) -> torch.Tensor:
            return x

    cyclic = Odd()
    cyclic.steps = [cyclic, Odd()]  # type: ignore[attr-defined]
    assert identity_revert_of(cyclic) is None
    cyclic.steps.append(_TLSplit())  # type: ignore[attr-defined]
    assert identity_revert_of(cyclic) == "_TLSplit"

    class Raising(Odd):
        @property
        def conversions(self) -> list[object]:
            raise RuntimeError("not a chain")

    hp = HookPoint(name="p")
    hp.enable_reshape(Raising())
    hp.add_hook(lambda t, hook: t * 2)
    assert torch.equal(hp(torch.ones(2)), torch.full((2,), 2.0))


def test_revert_that_does_not_undo_convert_is_a_shape_error_naming_the_point() -> None:
    class HalfRevert(BaseTensorConversion):  # reverts to the view's own layout: half the tensor
        def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x[..., :2]

        def handle_revert(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x

    hp = HookPoint(name="p")
    hp.enable_reshape(HalfRevert())
    hp.add_hook(lambda t, hook: t * 2)
    with pytest.raises(HookShapeError, match=r"HalfRevert.*'p'.*shape \(2,\).*activation has shape \(4,\)"):
        hp(torch.ones(4))
    hp.check_shape = False  # opted out: the reverted value passes as is
    assert torch.equal(hp(torch.ones(4)), torch.full((2,), 2.0))


def test_identity_conversion_with_a_copying_filter_still_reverts_in_place_edits() -> None:
    """A filter may copy, so a conversion with filters never skips revert (review finding)."""
    conversion = IdentityConversion(
        input_filter=lambda t: t.double(), input_filter_inverse=lambda t: t.float()
    )
    hp = HookPoint(name="p")
    hp.enable_reshape(conversion)
    hp.add_hook(_zero_head_1_in_place)
    out = hp(torch.ones(3, 2, 2))
    assert out.dtype == torch.float32
    assert torch.equal(out[:, 1], torch.zeros(3, 2)) and torch.equal(out[:, 0], torch.ones(3, 2))

    class AsFloat64(IdentityConversion):
        def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x.double()

        def handle_revert(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x.float()

    hp.enable_reshape(AsFloat64())
    assert torch.equal(hp(torch.ones(3, 2, 2))[:, 1], torch.zeros(3, 2))

    class ClaimsViews(AsFloat64):
        convert_returns_view = True  # true of handle_conversion alone, not with a filter

        def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x

        def handle_revert(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
            return x

    hp.enable_reshape(
        ClaimsViews(input_filter=lambda t: t.double(), input_filter_inverse=lambda t: t.float())
    )
    assert torch.equal(hp(torch.ones(3, 2, 2))[:, 1], torch.zeros(3, 2))


def test_hook_point_pickle_round_trip_keeps_its_dispatch_state() -> None:
    import pickle

    hp = HookPoint(name="p")
    hp.enable_reshape(SelectFirstHalf())
    restored = pickle.loads(pickle.dumps(hp))
    assert restored._mode is DispatchMode.REST and restored._revert_takes_original
    restored.add_hook(lambda t, hook: t * 0)
    assert torch.equal(restored(torch.arange(1.0, 5.0)), torch.tensor([0.0, 0.0, 3.0, 4.0]))
    assert hp.fwd_hooks == []  # the original is untouched


def test_enable_reshape_rejects_objects_without_convert_revert() -> None:
    with pytest.raises(TypeError, match="convert"):
        HookPoint(name="p").enable_reshape(object())


# ---------------------------------------------------------------- backward
def _grad_through(hp: HookPoint, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (hp(x * 1) * weight).sum().backward()
    assert x.grad is not None
    return x.grad


def test_backward_hook_sees_gradient_and_can_replace_it() -> None:
    hp = HookPoint(name="p")
    w = torch.tensor([1.0, 2.0, 3.0])
    seen = []
    hp.add_hook(lambda g, hook: seen.append(g.clone()), dir="bwd")
    hp.add_hook(lambda g, hook: (g * 10,), dir="bwd")  # 1-tuple accepted
    grad = _grad_through(hp, torch.ones(3), w)
    assert torch.equal(seen[0], w) and torch.equal(grad, w * 10)


def test_backward_hooks_chain() -> None:
    hp = HookPoint()
    seen = []
    hp.add_hook(lambda g, hook: g * 2, dir="bwd")
    hp.add_hook(lambda g, hook: seen.append(g.clone()), dir="bwd")
    _grad_through(hp, torch.ones(2), torch.ones(2))
    assert torch.equal(seen[0], torch.full((2,), 2.0))


def test_backward_hook_sees_only_this_uses_gradient() -> None:
    hp = HookPoint()
    seen = []
    hp.add_hook(lambda g, hook: seen.append(g.clone()), dir="bwd")
    x = torch.ones(2, requires_grad=True)
    y = x * 1
    (hp(y) * 3 + y * 5).sum().backward()
    assert torch.equal(seen[0], torch.full((2,), 3.0))


def test_backward_hooks_are_bound_at_forward_time() -> None:
    hp = HookPoint()
    seen = []
    handle = hp.add_hook(lambda g, hook: seen.append(1), dir="bwd")
    x = torch.ones(2, requires_grad=True)
    out = hp(x * 1).sum()
    handle.remove()
    out.backward()
    assert seen == [1]
    seen.clear()
    hp(x * 1).sum().backward()  # removed before this forward: does not fire
    assert seen == []


def test_backward_scale_scales_seen_gradient_and_unscales_return() -> None:
    hp = HookPoint()
    hp.backward_scale = 4.0
    seen = []

    def double(g: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
        assert type(g) is torch.Tensor  # a real tensor, not a wrapper
        seen.append(g.clone())
        return g * 2

    hp.add_hook(double, dir="bwd")
    grad = _grad_through(hp, torch.ones(3), torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(seen[0], torch.tensor([4.0, 8.0, 12.0]))
    assert torch.allclose(grad, torch.tensor([2.0, 4.0, 6.0]))


def test_backward_hooks_under_no_grad_do_nothing() -> None:
    hp = HookPoint()
    hp.add_hook(lambda g, hook: pytest.fail("must not fire"), dir="bwd")
    with torch.no_grad():
        x = torch.ones(2, requires_grad=True)
        assert hp(x) is x


def test_tensor_hook_gradients_equal_full_module_backward_hooks() -> None:
    lin = nn.Linear(4, 4)
    x = torch.randn(3, 4)
    ours, raw = [], []
    hp = HookPoint()
    hp.add_hook(lambda g, hook: ours.append(g.clone()), dir="bwd")
    lin.zero_grad()
    (hp(lin(x)).tanh().sum()).backward()
    grad_ours = lin.weight.grad.clone()
    plain = nn.Identity()
    plain.register_full_backward_hook(lambda m, gi, go: raw.append(go[0].clone()))
    lin.zero_grad()
    (plain(lin(x)).tanh().sum()).backward()
    assert torch.allclose(ours[0], raw[0]) and torch.allclose(grad_ours, lin.weight.grad)


# ---------------------------------------------------------------- torch interplay
def test_plain_torch_forward_hooks_on_a_point_still_fire() -> None:
    hp = HookPoint()
    seen = []
    handle = hp.register_forward_hook(lambda m, i, o: seen.append("torch") or o + 1)
    hp.add_hook(lambda t, hook: seen.append("ours"))
    assert torch.equal(hp(torch.zeros(1)), torch.ones(1))
    assert seen == ["ours", "torch"]
    handle.remove()
    seen.clear()
    hp(torch.zeros(1))
    assert seen == ["ours"]


def test_global_module_hooks_see_hook_points() -> None:
    seen = []
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: seen.append(type(m).__name__))
    try:
        HookPoint()(torch.zeros(1))
    finally:
        handle.remove()
    assert seen == ["HookPoint"]


def test_replaced_forward_is_honoured() -> None:
    hp = HookPoint()
    hp.forward = lambda x: x + 5  # what accelerate-style wrappers do
    assert torch.equal(hp(torch.zeros(1)), torch.full((1,), 5.0))


def test_point_returns_to_fast_path_after_hooks_removed() -> None:
    hp = HookPoint()
    handle = hp.add_hook(lambda t, hook: t + 1)
    hp(torch.zeros(1))
    handle.remove()
    x = torch.zeros(1)
    assert hp(x) is x and hp._mode is DispatchMode.REST
    torch_handle = hp.register_forward_hook(lambda m, a, o: None)
    assert hp._mode is DispatchMode.MODULE
    torch_handle.remove()  # through torch's own handle: the point notices on its next call
    assert hp(x) is x and hp._mode is DispatchMode.REST


class SelectFirstHalf(BaseTensorConversion):
    """A partial view: revert needs the original to rebuild the full tensor."""

    def handle_conversion(self, x: torch.Tensor, *ctx: object) -> torch.Tensor:
        return x[..., : x.shape[-1] // 2]

    def handle_revert(self, view: torch.Tensor, *ctx: torch.Tensor) -> torch.Tensor:
        (original,) = ctx
        return torch.cat([view, original[..., view.shape[-1] :]], dim=-1)


def test_revert_receives_the_original_for_partial_views() -> None:
    hp = HookPoint()
    hp.enable_reshape(SelectFirstHalf())
    hp.add_hook(lambda t, hook: t * 0)
    out = hp(torch.arange(1.0, 5.0))
    assert torch.equal(out, torch.tensor([0.0, 0.0, 3.0, 4.0]))


def test_partial_view_backward_writes_gradient_back() -> None:
    hp = HookPoint()
    hp.enable_reshape(SelectFirstHalf())
    hp.add_hook(lambda g, hook: g * 10, dir="bwd")
    x = torch.ones(4, requires_grad=True)
    (hp(x * 1) * torch.arange(1.0, 5.0)).sum().backward()
    assert torch.equal(x.grad, torch.tensor([10.0, 20.0, 3.0, 4.0]))


def test_conversion_filters_revert_through_their_inverses() -> None:
    class Halves(SplitHeads):
        pass

    symmetric = Halves(input_filter=lambda x: x * 2, input_filter_inverse=lambda x: x / 2)
    hp = HookPoint(name="p")
    hp.enable_reshape(symmetric)
    hp.add_hook(lambda t, hook: t + 1)
    assert torch.equal(hp(torch.zeros(1, 4)), torch.full((1, 4), 0.5))
    one_way = Halves(output_filter=lambda x: x * 2)
    with pytest.raises(NonInvertibleConversionError, match="output_filter has no inverse"):
        one_way.revert(torch.zeros(1, 2, 2))
