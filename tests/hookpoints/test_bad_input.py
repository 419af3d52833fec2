"""Bad input gets a clear error naming what is at fault, raised before work starts, state unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

import hookpoints
from hookpoints import HookNameError, HookPoint, HookShapeError, Slice, hookimpl
from hookpoints.errors import SliceInputError, SliceRangeError, UnknownNameError
from hookpoints.examples import TinyGPT
from hookpoints.extension_points import AliasRule, AliasScheme


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


# ---------------------------------------------------------------- shared checks
class _ShortAliases:
    @hookimpl
    def hookpoints_alias_schemes(self) -> Iterator[AliasScheme]:
        yield AliasScheme("short", "one short name", rules=(AliasRule("first", "0.hook_out"),))


@pytest.fixture
def in_process_aliases() -> Iterator[str]:
    name = hookpoints.plugins.register(_ShortAliases(), name="bad-input-aliases")
    yield name
    hookpoints.plugins.unregister(name)


def _clean(gpt: TinyGPT, tokens: torch.Tensor, reference: torch.Tensor) -> None:
    """No hook left anywhere and the next forward equals the reference."""
    assert _untouched(gpt)
    assert torch.equal(gpt(tokens), reference)


# ---------------------------------------------------------------- pos_slice
@pytest.mark.parametrize(
    ("pos_slice", "error", "message"),
    [
        ((0, 4, 0), SliceInputError, r"^pos_slice=\(0, 4, 0\): the slice step must not be 0$"),
        (slice(None, None, 0), SliceInputError, r"pos_slice=slice\(None, None, 0\): the slice step"),
        (
            (1, 2, 3, 4),
            SliceInputError,
            r"pos_slice=\(1, 2, 3, 4\): a tuple holds slice arguments \(start, stop, step\), at most 3; got 4",
        ),
        (("a",), SliceInputError, r"pos_slice=\('a',\): slice stop must be an int or None; got str"),
        ([0.5], SliceInputError, r"pos_slice=\[0.5\]: a list picks positions and must hold ints; got float"),
        (torch.tensor([1.0]), SliceInputError, r"must hold integers; got dtype torch.float32"),
    ],
    ids=["step-0", "slice-step-0", "4-tuple", "str-bound", "float-list", "float-tensor"],
)
def test_pos_slice_refused_before_the_forward(
    gpt: TinyGPT, tokens: torch.Tensor, pos_slice: Any, error: type[Exception], message: str
) -> None:
    reference = gpt(tokens)
    calls: list[int] = []
    handle = gpt.hook_dict["hook_embed"].add_hook(lambda t, hook: calls.append(1))
    with pytest.raises(error, match=message):
        gpt.run_with_cache(tokens, pos_slice=pos_slice)
    with pytest.raises(error, match=message):
        gpt.get_caching_hooks(pos_slice=pos_slice)
    assert calls == []  # refused before the forward started
    assert issubclass(error, ValueError)  # what TransformerLens raised for a bad slice
    handle.remove()
    _clean(gpt, tokens, reference)


@pytest.mark.parametrize(
    ("pos_slice", "bad"), [(99, 99), (-99, -99), ([0, 99], 99), ([-7], -7), (Slice(6), 6)], ids=str
)
def test_pos_slice_out_of_range_names_the_point_and_the_length(
    gpt: TinyGPT, tokens: torch.Tensor, pos_slice: Any, bad: int
) -> None:
    reference = gpt(tokens)
    n_pos = tokens.shape[1]
    assert n_pos == 6
    shown = re.escape(repr(pos_slice if not isinstance(pos_slice, Slice) else pos_slice.slice))
    with pytest.raises(
        SliceRangeError,
        match=rf"^pos_slice={shown} at hook point 'hook_embed': index {bad} is out of range for 6 positions "
        r"\(dimension -2 of an activation of shape \(2, 6, 32\)\); expected indices in \[-6, 5\]",
    ) as caught:
        gpt.run_with_cache(tokens, pos_slice=pos_slice)
    assert isinstance(caught.value, IndexError)
    _clean(gpt, tokens, reference)
    # a per-head point (position on dim -3) names itself and its own length
    with pytest.raises(SliceRangeError, match=r"at hook point 'blocks.0.attn.hook_q'.*dimension -3"):
        gpt.run_with_cache(tokens, names_filter="blocks.0.attn.hook_q", pos_slice=pos_slice)
    _clean(gpt, tokens, reference)


def test_valid_pos_slices_at_the_edges_still_work(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    _, full = gpt.run_with_cache(tokens, names_filter="hook_embed")
    embed = full["hook_embed"]
    for pos_slice, expected in [
        (5, embed[:, [5]]),
        (-6, embed[:, [0]]),
        ([-6, 5], embed[:, [0, 5]]),
        ((0, 99), embed),  # slices clamp, as in Python and TransformerLens
        ([], embed[:, []]),
    ]:
        _, cache = gpt.run_with_cache(tokens, names_filter="hook_embed", pos_slice=pos_slice)
        assert torch.equal(cache["hook_embed"], expected), pos_slice


# ---------------------------------------------------------------- names_filter
@pytest.mark.parametrize(
    ("names_filter", "message"),
    [
        (b"hook_embed", r"names_filter must be a hook name \(str\).*got bytes b'hook_embed'.*'hook_embed'"),
        (lambda: True, r"names_filter: a predicate is called as predicate\(name\).*<lambda>\(\) cannot"),
        (lambda a, b: True, r"names_filter: a predicate .*<lambda>\(a, b\) cannot be called with one"),
        (lambda n, *, k: True, r"names_filter: a predicate .*<lambda>\(n, \*, k\)"),
    ],
    ids=["bytes", "no-argument", "two-arguments", "required-keyword"],
)
def test_bad_names_filter_names_names_filter(
    gpt: TinyGPT, tokens: torch.Tensor, names_filter: Any, message: str
) -> None:
    reference = gpt(tokens)
    with pytest.raises(TypeError, match=message):
        gpt.run_with_cache(tokens, names_filter=names_filter)
    with pytest.raises(TypeError, match=message):
        hookpoints.capture(gpt, [tokens], names_filter=names_filter)
    _clean(gpt, tokens, reference)


def test_predicates_of_the_right_arity_are_accepted(gpt: TinyGPT, tokens: torch.Tensor) -> None:
    class Picker:
        def pick(self, name: str, extra: int = 0) -> bool:
            return name == "hook_embed"

    for predicate in (lambda n: n == "hook_embed", lambda *names: names[0] == "hook_embed", Picker().pick):
        _, cache = gpt.run_with_cache(tokens, names_filter=predicate)
        assert list(cache) == ["hook_embed"]


# ---------------------------------------------------------------- capture
@pytest.mark.parametrize("batches", [[], (), iter([]), (t for t in [])], ids=["list", "tuple", "iter", "gen"])
def test_capture_with_no_batches_is_an_error(gpt: TinyGPT, tokens: torch.Tensor, batches: Any) -> None:
    reference = gpt(tokens)
    with pytest.raises(ValueError, match=r"^capture\(\) got no batches \(.*\): nothing was run"):
        hookpoints.capture(gpt, batches)
    _clean(gpt, tokens, reference)


def test_capture_of_a_plain_module_says_to_attach_it() -> None:
    lin = nn.Linear(4, 4)
    with pytest.raises(
        TypeError,
        match=r"capture\(\) needs a hookpoints model \(a HookedRootModule\); Linear has no hook points: wrap",
    ):
        hookpoints.capture(lin, [torch.zeros(1, 4)])  # type: ignore[arg-type]
    assert not lin._forward_hooks and not lin._forward_pre_hooks
    cache = hookpoints.capture(hookpoints.attach(lin), [torch.zeros(1, 4)])
    assert set(cache) == {"hook_in", "hook_out"}


# ---------------------------------------------------------------- attach
def test_attach_refuses_what_is_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"^attach\(\) needs a torch.nn.Module; got str 'not a module'$"):
        hookpoints.attach("not a module")  # type: ignore[arg-type]


def test_attach_a_module_without_submodules_gives_its_input_and_output() -> None:
    lin = nn.Linear(4, 4)
    x = torch.randn(2, 4)
    hooked = hookpoints.attach(lin)
    assert list(hooked.hook_dict) == ["hook_in", "hook_out"]
    _, cache = hooked.run_with_cache(x)
    assert torch.equal(cache["hook_in"], x) and torch.equal(cache["hook_out"], lin(x))
    doubled = hooked.run_with_hooks(x, fwd_hooks=[("hook_out", lambda t, hook: t * 2)])
    assert torch.equal(doubled, lin(x) * 2)
    assert hooked.torch_hook_count == 0 and not lin._forward_hooks and not lin._forward_pre_hooks


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 2)))


@pytest.mark.parametrize(
    ("include", "error", "message"),
    [
        ("2.00", HookNameError, r"no Sequential module path \(include=\) named '2.00'; did you mean '2.0'"),
        (["0", "relu"], HookNameError, r"named 'relu'; its module paths are '0', '1', '2', '2.0'"),
        (
            lambda p: p.startswith("x"),
            ValueError,
            r"matched no module of Sequential; its module paths are '0'",
        ),
    ],
    ids=["typo", "unknown-in-list", "predicate-matching-nothing"],
)
def test_attach_include_matching_nothing_is_an_error(
    include: Any, error: type[Exception], message: str
) -> None:
    net = _net()
    x = torch.randn(2, 4)
    reference = net(x)
    with pytest.raises(error, match=message):
        hookpoints.attach(net, include=include)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert torch.equal(net(x), reference)


def test_attach_with_a_misspelt_alias_scheme_lists_the_installed_ones(in_process_aliases: str) -> None:
    net = _net()
    with pytest.raises(
        UnknownNameError, match=r"no alias scheme named 'shrot'; installed: .*short.*did you mean 'short'"
    ):
        hookpoints.attach(net, aliases="shrot")
    with pytest.raises(TypeError, match=r"aliases must be an alias scheme name.*got int 5"):
        hookpoints.attach(net, aliases=5)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="'shrot'"):  # looked up before any scheme is added
        hookpoints.attach(net, aliases=["short", "shrot"])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert "first" in hookpoints.attach(net, aliases="short").hook_dict


def test_a_conversion_that_raises_names_the_point_forward_and_backward() -> None:
    class Broken:
        def convert(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("cannot view this")

        def revert(self, view: torch.Tensor) -> torch.Tensor:
            return view

    point = HookPoint(name="blocks.0.hook_q")
    point.enable_reshape(Broken())
    point.add_hook(lambda t, *, hook: None)
    with pytest.raises(ValueError, match="cannot view this") as info:
        point(torch.ones(2, 3))
    assert any("hook point 'blocks.0.hook_q'" in note for note in info.value.__notes__)
    point.remove_hooks("fwd")
    point.add_hook(lambda g, *, hook: None, dir="bwd")
    x = torch.ones(2, 3, requires_grad=True)
    point.enable_reshape(None)
    out = point(x)
    point.enable_reshape(Broken())  # bound at forward time; the conversion is read at backward
    with pytest.raises(ValueError, match="cannot view this") as info:
        out.sum().backward()
    assert any("gradient at hook point 'blocks.0.hook_q'" in note for note in info.value.__notes__)


def test_capture_and_record_refuse_another_librarys_root() -> None:
    class OtherRoot(nn.Module):  # TransformerBridge's shape: hook_dict and hooks(), other semantics
        def __init__(self) -> None:
            super().__init__()
            self.hook_dict: dict[str, nn.Module] = {"a.hook_in": nn.Identity()}

        def hooks(self, fwd_hooks: object = ()) -> None:
            raise AssertionError("must not be called")

    other = OtherRoot()
    expected = (
        r"needs a hookpoints model \(a HookedRootModule\); OtherRoot has hook points of another library"
    )
    with pytest.raises(TypeError, match="capture\\(\\) " + expected):
        hookpoints.capture(other, [torch.zeros(1)], ["a.hook_in"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="record\\(\\) " + expected), hookpoints.record(other):  # type: ignore[arg-type]
        pass
