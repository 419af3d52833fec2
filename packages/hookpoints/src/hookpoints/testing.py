"""Conformance checks and shared fixtures for plugin authors: call them from your plugin's tests.

Each check raises ``AssertionError`` with a message that names the contribution and what
was expected, and returns nothing on success::

    from hookpoints.testing import check_conversion_step, check_alias_scheme, check_reporter

    def test_my_step():
        check_conversion_step("my_step", params={"n_heads": 4}, shapes=[(2, 3, 8)])
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .aliases.points import fields as _fields
from .aliases.points import match_pattern as _matches
from .aliases.points import pattern_regex as _pattern
from .core.conversion_protocol import revert_accepts_original
from .core.hook_point import HookPoint
from .core.root import HookedRootModule
from .errors import NonInvertibleConversionError
from .examples import TinyGPT, TinyGPTConfig
from .extension_points import AliasScheme, CacheSink, ConversionStep, Reporter

DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = ((2, 3, 8), (1, 5, 4, 8), (4, 8))
DEFAULT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64, torch.bfloat16)


def _inputs(shapes: Iterable[Sequence[int]], dtypes: Iterable[torch.dtype]) -> Iterable[tuple[str, Tensor]]:
    generator = torch.Generator().manual_seed(0)
    for shape in shapes:
        for dtype in dtypes:
            base = torch.randn(tuple(shape), generator=generator).to(dtype)
            yield f"contiguous {tuple(shape)} {dtype}", base
            if len(shape) >= 2 and min(shape[-2:]) > 1:
                # Same shape and values, but a transposed (non-contiguous) memory layout.
                strided = base.transpose(-1, -2).contiguous().transpose(-1, -2)
                assert not strided.is_contiguous()
                yield f"non-contiguous {tuple(shape)} {dtype}", strided
            if shape and shape[-1] > 1:
                # Same again with gaps in memory (every other element), like a chunk of a fused
                # projection: views must stay views, copies must still revert exactly.
                wide = torch.zeros(*shape[:-1], 2 * shape[-1], dtype=dtype)
                wide[..., ::2] = base
                yield f"gapped {tuple(shape)} {dtype}", wide[..., ::2]


def check_conversion_step(
    step: ConversionStep | str,
    params: Mapping[str, Any] | None = None,
    shapes: Iterable[Sequence[int]] = DEFAULT_SHAPES,
    dtypes: Iterable[torch.dtype] = DEFAULT_DTYPES,
) -> None:
    """Check a conversion step on several shapes, dtypes and memory layouts.

    Invertible steps: ``revert(convert(x), x)`` (called as a hook point calls it: with the
    original when ``revert`` accepts it) equals ``x`` exactly, with x's shape, dtype and
    device; its gradient is all ones, and an edit through the view keeps gradients flowing.
    Read-only steps (``invertible=False``): ``convert`` works and ``revert`` raises
    :class:`NonInvertibleConversionError`.
    """
    from .registries import CONVERSIONS

    descriptor = CONVERSIONS.get(step) if isinstance(step, str) else step
    label = f"conversion step {descriptor.name!r}"
    conversion = descriptor.build(**dict(params or {}))
    for attr in ("convert", "revert"):
        assert callable(getattr(conversion, attr, None)), f"{label}: its object has no {attr}() method"
    with_original = revert_accepts_original(conversion.revert)

    def revert(view: Tensor, original: Tensor) -> Any:  # as HookPoint calls it
        return conversion.revert(view, original) if with_original else conversion.revert(view)

    for case, x in _inputs(shapes, dtypes):
        view = conversion.convert(x)
        assert isinstance(view, Tensor), f"{label} ({case}): convert returned {type(view).__name__}"
        assert view.device == x.device, f"{label} ({case}): convert moved the tensor to {view.device}"
        if not descriptor.invertible:
            try:
                revert(view, x)
            except NonInvertibleConversionError:
                continue
            raise AssertionError(
                f"{label} is declared read-only but revert() did not raise NonInvertibleConversionError"
            )
        back = revert(view, x)
        assert isinstance(back, Tensor), f"{label} ({case}): revert returned {type(back).__name__}"
        assert back.shape == x.shape, (
            f"{label} ({case}): revert gave shape {tuple(back.shape)}, expected {tuple(x.shape)}"
        )
        assert back.dtype == x.dtype, f"{label} ({case}): revert gave dtype {back.dtype}, expected {x.dtype}"
        assert back.device == x.device, f"{label} ({case}): revert gave device {back.device}"
        assert torch.equal(back, x), f"{label} ({case}): revert(convert(x)) differs from x"
        if getattr(conversion, "convert_returns_view", False) is True:
            # The claim lets a hook point skip revert when a hook returns the view it was given:
            # an in-place edit through the view must equal the same edit reverted.
            target = x.clone()
            through = conversion.convert(target)
            edit = torch.arange(through.numel()).reshape(through.shape).to(through.dtype)
            expected = revert(edit, x.clone())
            try:
                through.copy_(edit)
            except RuntimeError as exc:  # e.g. an expanded view: several elements share memory
                raise AssertionError(
                    f"{label} ({case}) declares convert_returns_view, but its view cannot be edited in "
                    f"place: {exc}"
                ) from None
            assert torch.equal(target, expected), (
                f"{label} ({case}) declares convert_returns_view, but an in-place edit of its view did not "
                "land in the original as revert would have put it"
            )
        if x.dtype.is_floating_point:
            # The round trip is the identity, so its gradient is all ones (partial views
            # included: what the view does not cover passes through from the original).
            leaf = x.detach().clone().requires_grad_(True)
            revert(conversion.convert(leaf), leaf).sum().backward()
            assert leaf.grad is not None, f"{label} ({case}): no gradient flowed through convert and revert"
            assert torch.equal(leaf.grad, torch.ones_like(leaf.grad)), (
                f"{label} ({case}): the gradient of revert(convert(x)) is not all ones"
            )
            edited = x.detach().clone().requires_grad_(True)
            revert(conversion.convert(edited) * 2, edited).sum().backward()
            assert edited.grad is not None and bool((edited.grad > 0).all()), (
                f"{label} ({case}): an edit through the view cut the gradient off"
            )


def check_alias_scheme(scheme: AliasScheme | str, model: HookedRootModule | None = None) -> None:
    """Check an alias scheme: well-formed, acyclic, unambiguous, and (with ``model``) resolvable.

    - every ``{field}`` of an alias appears in its target and vice versa;
    - no alias is the target (or alias) of another rule: no chains, no cycles;
    - conversion chains name installed conversion steps that build with their params;
    - with a model: every rule resolves to at least one hook point, and no alias name is
      produced twice (which would make a hook fire twice).
    """
    from .attached import AttachedModel
    from .registries import ALIASES, CONVERSIONS

    descriptor = ALIASES.get(scheme) if isinstance(scheme, str) else scheme
    label = f"alias scheme {descriptor.name!r}"
    rules = descriptor.rules_for(model.model if isinstance(model, AttachedModel) else model)
    assert rules, f"{label} has no rules" + (f" for {type(model).__name__}" if model is not None else "")
    aliases = [r.alias for r in rules]
    duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
    assert not duplicates, f"{label}: aliases defined twice: {duplicates}"
    for rule in rules:
        assert _fields(rule.alias) == _fields(rule.target), (
            f"{label}: alias {rule.alias!r} and target {rule.target!r} use different fields"
        )
        sample = rule.target.format(**dict.fromkeys(_fields(rule.target), "0"))
        for other in rules:
            assert not _pattern(other.alias).match(sample), (
                f"{label}: target {rule.target!r} is itself an alias ({other.alias!r}): "
                "chains and cycles are not allowed"
            )
        for step, params in rule.conversions:
            CONVERSIONS.create(step, **dict(params))
    if model is not None:
        names = list(model.hook_dict)
        produced: list[str] = []
        for rule in rules:
            found = _matches(rule.target, names)
            assert found, (
                f"{label}: alias {rule.alias!r} expects hook point {rule.target!r}; "
                f"{type(model).__name__} has none"
            )
            produced += [rule.alias.format(**groups) for groups in found.values()]
        twice = sorted({p for p in produced if produced.count(p) > 1})
        assert not twice, f"{label}: alias names produced by several rules (a hook would fire twice): {twice}"


class _EmptyModel(HookedRootModule):
    def __init__(self) -> None:
        super().__init__()
        self.setup()

    def forward(self, x: Tensor) -> Tensor:
        return x


class _SampleModel(HookedRootModule):
    def __init__(self) -> None:
        super().__init__()
        self.hook_in = HookPoint()
        self.proj = nn.Linear(4, 4)
        self.hook_out = HookPoint()
        self.setup()

    def forward(self, x: Tensor) -> Tensor:
        return self.hook_out(self.proj(self.hook_in(x)))  # type: ignore[no-any-return]


def _probe(t: Tensor, *, hook: HookPoint) -> None:
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def check_reporter(reporter: Reporter | str, width: int = 80) -> None:
    """Render five reports within ``width``: an empty model, a hooked model, a cached run,
    a recorded run with a never-fired point and a planted NaN, and a cache comparison.

    Each must give non-empty text, every line at most ``width`` characters (ANSI colour codes
    excluded), and no colour codes unless ``color=True`` is asked for.
    """
    from .registries import REPORTERS
    from .reports.data import build_report
    from .reports.recording import record

    descriptor = REPORTERS.get(reporter) if isinstance(reporter, str) else reporter
    label = f"reporter {descriptor.name!r}"
    instance = descriptor.build()
    model = _SampleModel()
    handle = model.add_hook("hook_in", _probe)
    try:
        with torch.no_grad():
            _, cache = model.run_with_cache(torch.ones(2, 4))
            with record(model) as run:
                model.hook_in(torch.tensor([[float("nan"), 1.0, 2.0, 3.0]]))  # hook_out never fires
            _, patched_cache = model.run_with_cache(torch.full((2, 4), 2.0))
        cases = [
            ("an empty model", build_report(_EmptyModel())),
            ("a hooked model", build_report(model)),
            ("a cached run", build_report(model, cache)),
            ("a recorded run", build_report(model, run=run)),
            ("a comparison", build_report(model, cache, compare=(cache, patched_cache))),
        ]
        for case, data in cases:
            for color in (False, True):
                text = instance.render(data, width=width, color=color)
                assert isinstance(text, str) and text.strip(), f"{label}: rendering {case} gave no text"
                if not color:
                    assert not _ANSI.search(text), (
                        f"{label}: rendering {case} emitted colour codes with color=False"
                    )
                plain = _ANSI.sub("", text)
                too_wide = [line for line in plain.splitlines() if len(line) > width]
                assert not too_wide, (
                    f"{label}: rendering {case} has lines wider than {width}: {too_wide[0]!r}"
                )
    finally:
        handle.remove()


def check_cache_sink(sink: CacheSink | str, params: Mapping[str, Any] | None = None, batches: int = 3) -> Any:
    """Drive a cache sink through a capture of a small model over several batches.

    Checks the protocol (``write``, ``end_batch``, ``finalize``), that every batch and point
    reaches the sink in order, that ``finalize`` runs once, and that no hook is left on the
    model. Returns what ``finalize`` returned, for kind-specific checks.
    """
    from .capturing.loop import capture
    from .registries import SINKS

    descriptor = SINKS.get(sink) if isinstance(sink, str) else sink
    label = f"cache sink {descriptor.name!r}"
    target = descriptor.build(**dict(params or {}))
    for method in ("write", "end_batch", "finalize"):
        assert callable(getattr(target, method, None)), f"{label}: its object has no {method}() method"
    seen: list[tuple[str, int]] = []
    ended: list[int] = []
    finalized: list[Any] = []

    class Spy:
        completed_batches = getattr(target, "completed_batches", ())

        def write(self, name: str, tensor: Any, *, batch: int) -> None:
            seen.append((name, batch))
            target.write(name, tensor, batch=batch)

        def end_batch(self, batch: int) -> None:
            ended.append(batch)
            target.end_batch(batch)

        def finalize(self) -> Any:
            finalized.append(True)
            return target.finalize()

    model = _SampleModel()
    inputs = [torch.full((2, 4), float(i)) for i in range(batches)]
    result = capture(model, inputs, ["hook_in", "hook_out"], Spy(), progress=False)
    expected = [(name, b) for b in range(batches) for name in ("hook_in", "hook_out")]
    assert seen == expected, f"{label}: writes arrived as {seen[:4]}…, expected {expected[:4]}…"
    assert ended == list(range(batches)), f"{label}: end_batch calls {ended}"
    assert finalized == [True], f"{label}: finalize ran {len(finalized)} times"
    assert not any(p.fwd_hooks for p in model.hook_points()), f"{label}: hooks left on the model"
    return result


# ------------------------------------------------------------------ property-test helpers
# Shared by conversion-step plugins' hypothesis tests: inputs in every dtype and memory
# layout, and the check that an edit through a view equals the same edit made by hand on
# the full tensor (values and gradients).

FLOATS = (torch.float32, torch.float64, torch.bfloat16)
INTS = (torch.int64, torch.int32)
LAYOUTS = ("contiguous", "transposed", "strided")

Index = tuple[int, ...]


def make_tensor(
    shape: Sequence[int], dtype: torch.dtype, seed: int, layout: str, grid: bool = False
) -> Tensor:
    """Random values in ``shape`` and ``dtype``, laid out contiguously or not.

    ``grid``: multiples of 1/4 in [-16, 16], so small sums are exact in every dtype.
    """
    generator = torch.Generator().manual_seed(seed)

    def fill(size: Sequence[int]) -> Tensor:
        if grid or not dtype.is_floating_point:
            low, high = (-64, 65) if grid else (-100, 100)
            values = torch.randint(low, high, tuple(size), generator=generator)
            return (values / 4).to(dtype) if dtype.is_floating_point else values.to(dtype)
        return torch.randn(tuple(size), generator=generator, dtype=torch.float64).to(dtype)

    shape = tuple(shape)
    if layout == "transposed" and len(shape) >= 2:
        return fill(shape[::-1]).permute(*reversed(range(len(shape))))
    if layout == "strided" and shape:
        return fill((*shape[:-1], 2 * shape[-1]))[..., ::2]
    return fill(shape)


def shapes(min_dims: int = 1, max_dims: int = 4, max_side: int = 4) -> Any:
    """A hypothesis strategy for tensor shapes (needs ``hypothesis``)."""
    from hypothesis import strategies as st

    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@dataclasses.dataclass
class ViewExample:
    """A conversion, an input, and -- written out by hand -- where each view position lives in
    the input (``to_full``) and which elementwise maps take an input element to the view and
    back (``fwd`` / ``inv``): what "the same edit made by hand" means for that step."""

    conversion: Any
    x: Tensor
    to_full: Callable[[Index], Index] = lambda p: p
    fwd: Callable[[Tensor, Index], Tensor] = lambda t, q: t
    inv: Callable[[Tensor, Index], Tensor] = lambda t, q: t
    seed: int = 0


def positions(shape: Sequence[int], seed: int, count: int = 2) -> list[Index]:
    rng = random.Random(seed)
    return [tuple(rng.randrange(n) for n in shape) for _ in range(count)]


EDITS: tuple[Callable[[Tensor], Tensor], ...] = (lambda t: t * 3, lambda t: t * 0)


def edit_view(view: Tensor, where: list[Index]) -> Tensor:
    """The edit a hook makes: scale one element by 3 and zero another (out of place)."""
    edited = view.clone()
    for p, op in zip(where, EDITS, strict=False):
        edited[p] = op(edited[p])
    return edited


def edit_by_hand(ex: ViewExample, x: Tensor, where: list[Index]) -> Tensor:
    """The same edit made on the full tensor, through the step's maps written by hand."""
    edited = x.clone()
    for p, op in zip(where, EDITS, strict=False):
        q = ex.to_full(p)
        edited[q] = ex.inv(op(ex.fwd(edited[q], q)), q)
    return edited


def assert_same(actual: Tensor, expected: Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert torch.equal(actual, expected), f"{what}: values differ"


def check_roundtrip(ex: ViewExample) -> None:
    conversion, x = ex.conversion, ex.x
    view = conversion.convert(x)
    assert_same(conversion.revert(view, x), x, f"{conversion!r}: revert(convert(x), x)")
    # What a hook returns is a new tensor, usually contiguous: the same values must come back.
    assert_same(conversion.revert(view.clone(), x), x, f"{conversion!r}: revert(clone)")
    assert_same(conversion.revert(view.contiguous(), x.contiguous()), x, f"{conversion!r}: contiguous")


def check_edit_and_gradient(ex: ViewExample) -> None:
    conversion, x = ex.conversion, ex.x
    where = positions(conversion.convert(x).shape, ex.seed)
    through = conversion.revert(edit_view(conversion.convert(x), where), x)
    assert_same(through, edit_by_hand(ex, x, where), f"{conversion!r}: edit through the view")
    if not x.dtype.is_floating_point:
        return
    weight = make_tensor(x.shape, x.dtype, ex.seed + 1, "contiguous")
    leaf_a = x.detach().clone().requires_grad_(True)
    leaf_b = x.detach().clone().requires_grad_(True)
    (conversion.revert(edit_view(conversion.convert(leaf_a), where), leaf_a) * weight).sum().backward()
    (edit_by_hand(ex, leaf_b, where) * weight).sum().backward()  # type: ignore[no-untyped-call]
    assert leaf_a.grad is not None and leaf_b.grad is not None
    assert_same(leaf_a.grad, leaf_b.grad, f"{conversion!r}: gradient through the edited view")


def property_settings(max_examples: int = 60) -> Any:
    """hypothesis settings for conversion-step property tests (needs ``hypothesis``).

    Also loads the plugins now, so that the first registry use does not land inside a draw
    (where it would count against hypothesis's deadline and health checks).
    """
    from hypothesis import HealthCheck, settings

    from .registries import CONVERSIONS

    CONVERSIONS.available()
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ shared models
# The fixtures every distribution's tests build on, so that each is written once.

#: A TinyGPT small enough for tests: 2 layers, d_model 32, 2 heads of 16, vocabulary 50.
SMALL_GPT = TinyGPTConfig(n_layers=2, d_model=32, n_heads=2, d_head=16, d_mlp=64, d_vocab=50, n_ctx=16)


def small_gpt(**overrides: Any) -> TinyGPT:
    """A :data:`SMALL_GPT` TinyGPT (``overrides`` replace config fields), in eval mode."""
    return TinyGPT(dataclasses.replace(SMALL_GPT, **overrides)).eval()


def small_tokens(batch: int = 2, pos: int = 6, seed: int = 1, d_vocab: int = SMALL_GPT.d_vocab) -> Tensor:
    """Token ids for :func:`small_gpt`, the same for a given seed."""
    return torch.randint(0, d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed))


def zero_head(head: int) -> Callable[..., Tensor]:
    """A hook zeroing one head of a per-head ``[batch, pos, head, d_head]`` activation (on a copy)."""

    def hook(z: Tensor, *, hook: Any) -> Tensor:
        z = z.clone()
        z[:, :, head] = 0.0
        return z

    return hook


def zero_head_columns(head: int, d_head: int) -> Callable[..., Tensor]:
    """The same edit on the merged ``[batch, pos, head * d_head]`` layout (on a copy)."""

    def hook(z: Tensor, *, hook: Any) -> Tensor:
        z = z.clone()
        z[..., head * d_head : (head + 1) * d_head] = 0.0
        return z

    return hook


class Arith(HookedRootModule):
    """x -> hook_in -> *2 -> block.hook_mid -> +1 -> hook_out; ``block.hook_unused`` never fires.

    Every statistic of :data:`ARITH_INPUT` through it is exactly representable, so reports of
    it can be compared with snapshots.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hook_in = HookPoint()
        self.block = nn.Module()
        self.block.hook_mid = HookPoint()
        self.block.hook_unused = HookPoint()
        self.hook_out = HookPoint()
        self.setup()

    def forward(self, x: Tensor) -> Tensor:
        mid: HookPoint = self.block.hook_mid  # type: ignore[assignment]
        return self.hook_out(mid(self.hook_in(x) * 2) + 1)


ARITH_INPUT = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def check_converts_once_per_forward(
    model: HookedRootModule, point: str, conversion: Any, inputs: Any, forwards: int = 2
) -> None:
    """With several hooks on ``point`` (two editing), ``conversion`` converts and reverts once per forward.

    ``conversion`` is installed on the point (``enable_reshape``) with its ``convert`` and
    ``revert`` counted; the model runs ``forwards`` times on ``inputs``.
    """
    calls = {"convert": 0, "revert": 0}
    convert, revert = conversion.convert, conversion.revert

    def counted_convert(x: Tensor, *context: Any) -> Any:
        calls["convert"] += 1
        return convert(x, *context)

    def counted_revert(view: Tensor, *context: Any) -> Any:
        calls["revert"] += 1
        return revert(view, *context)

    conversion.convert, conversion.revert = counted_convert, counted_revert
    model.hook_dict[point].enable_reshape(conversion)
    hooks = [
        (point, lambda v, hook: None),
        (point, lambda v, hook: v * 2),
        (point, lambda v, hook: None),
        (point, lambda v, hook: v / 2),
    ]
    with model.hooks(fwd_hooks=hooks):
        for _ in range(forwards):
            model(inputs)
    expected = {"convert": forwards, "revert": forwards}
    assert calls == expected, (
        f"{conversion!r} on {point!r}: {calls} over {forwards} forwards, expected {expected}"
    )
