"""Discovery, conformance, descriptors, errors, and the read-only reduce."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from hookpoints_einops import Rearrange

import hookpoints
from hookpoints import HookPoint, NonInvertibleConversionError
from hookpoints.plugins import conversion_steps
from hookpoints.testing import check_conversion_step

OURS = {"rearrange": True, "repeat": True, "reduce": False}  # name -> invertible
INT_DTYPES = (torch.int64, torch.int32)


@pytest.mark.parametrize("name", list(OURS))
def test_discovered_through_entry_point_with_the_right_flags(name: str) -> None:
    source = hookpoints.conversions.source(name)
    assert source.distribution == "hookpoints-einops" and source.plugin == "einops"
    descriptor = hookpoints.conversions.get(name)
    assert descriptor.invertible is OURS[name]
    assert (
        descriptor.parameter_names()[0] == "pattern" and descriptor.parameter_names()[-1] == "**axes_lengths"
    )


CONFORMANCE: list[tuple[str, dict[str, Any], list[tuple[int, ...]], tuple[torch.dtype, ...] | None]] = [
    ("rearrange", {"pattern": "... (h d) -> ... h d", "h": 4}, [(2, 3, 8), (1, 5, 4, 8), (4, 8)], None),
    ("rearrange", {"pattern": "... h d -> ... (h d)", "h": 4}, [(2, 4, 8), (1, 5, 4, 3), (4, 8)], INT_DTYPES),
    ("rearrange", {"pattern": "b p d -> d b p"}, [(2, 3, 8)], None),
    # Split and permute: views, so the check also edits them in place.
    ("rearrange", {"pattern": "b p (h d) -> b h p d", "h": 2}, [(2, 3, 8)], INT_DTYPES),
    ("rearrange", {"pattern": "b p (h d) -> b 1 p h () d", "h": 4}, [(2, 3, 8), (1, 5, 4)], None),
    ("repeat", {"pattern": "... d -> ... r d", "r": 3}, [(2, 3, 8), (4, 8)], None),
    ("repeat", {"pattern": "b ... -> b ... 5"}, [(2, 3, 8), (4, 8)], INT_DTYPES),
    ("repeat", {"pattern": "b d -> (r b) d", "r": 2}, [(4, 8)], None),
    ("reduce", {"pattern": "b ... d -> b d", "reduction": "mean"}, [(2, 3, 8), (1, 5, 4, 8), (4, 8)], None),
    ("reduce", {"pattern": "b p d -> b", "reduction": "max"}, [(2, 3, 8)], INT_DTYPES),
]

# Reverting these needs the original: the length of b, or what '...' stands for.
CONFORMANCE_WITH_ORIGINAL: list[tuple[str, dict[str, Any], list[tuple[int, ...]]]] = [
    ("rearrange", {"pattern": "(a b) c -> a (b c)", "a": 2}, [(4, 8), (2, 3)]),
    ("rearrange", {"pattern": "b p h d -> b p (h d)"}, [(1, 5, 4, 8), (2, 3, 2, 4)]),
    ("rearrange", {"pattern": "b ... -> (...) b"}, [(2, 3, 8), (1, 5, 4, 8), (4, 8)]),
    ("repeat", {"pattern": "b ... -> b (... r)", "r": 2}, [(2, 3, 8), (4, 8)]),
]


@pytest.mark.parametrize(
    ("name", "params", "shapes", "dtypes"), CONFORMANCE, ids=lambda v: v if isinstance(v, str) else ""
)
def test_step_passes_conformance_check(name: str, params: dict[str, Any], shapes: Any, dtypes: Any) -> None:
    check_conversion_step(name, params=params, shapes=shapes, **({"dtypes": dtypes} if dtypes else {}))


@pytest.mark.parametrize(
    ("name", "params", "shapes"), CONFORMANCE_WITH_ORIGINAL, ids=lambda v: v if isinstance(v, str) else ""
)
def test_step_needing_the_original_passes_conformance_check(
    name: str, params: dict[str, Any], shapes: Any
) -> None:
    assert conversion_steps.create(name, **params).needs_original
    check_conversion_step(name, params=params, shapes=shapes)


@pytest.mark.parametrize(
    ("params", "shape", "needs"),
    [
        ({"pattern": "b p (h d) -> b p h d", "h": 4}, (2, 3, 8), False),
        ({"pattern": "b p h d -> b p (h d)"}, (2, 3, 4, 2), True),
        ({"pattern": "b p h d -> b p (h d)", "h": 4}, (2, 3, 4, 2), False),
        ({"pattern": "(a b) c -> a (b c)", "a": 2}, (6, 5), True),
        ({"pattern": "(a b) c -> a (b c)", "a": 2, "b": 3}, (6, 5), False),
        ({"pattern": "b ... -> (...) b"}, (2, 3, 4), True),
        ({"pattern": "b ... -> ... b"}, (2, 3, 4), False),
    ],
)
def test_rearrange_knows_when_revert_needs_the_original(
    params: dict[str, Any], shape: tuple[int, ...], needs: bool
) -> None:
    step = conversion_steps.create("rearrange", **params)
    assert step.needs_original is needs
    x = torch.randn(shape)
    view = step.convert(x)
    assert torch.equal(step.revert(view, x), x)
    if needs:
        with pytest.raises(
            TypeError, match=r"(cannot infer the lengths of axes|needs the original activation)"
        ):
            step.revert(view)
    else:
        assert torch.equal(step.revert(view), x)


ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("rearrange", {"pattern": "b p d"}, ValueError, r"rearrange: pattern must be a string 'left -> right'"),
    ("rearrange", {"pattern": "b (p d -> b p d"}, ValueError, r"rearrange: unbalanced '\(' in pattern"),
    ("rearrange", {"pattern": "b ((p d)) -> b p d"}, ValueError, r"rearrange: nested parentheses"),
    (
        "rearrange",
        {"pattern": "b p! -> b p"},
        ValueError,
        r"rearrange: 'p!' in pattern .* is not an axis name",
    ),
    (
        "rearrange",
        {"pattern": "b p -> b p q"},
        ValueError,
        r"rearrange: axes q appear on one side of 'b p -> b p q' only",
    ),
    (
        "rearrange",
        {"pattern": "b p p -> b p"},
        ValueError,
        r"rearrange: axes \['p'\] appear twice on one side",
    ),
    (
        "rearrange",
        {"pattern": "b (h d) -> b h d", "x": 2},
        ValueError,
        r"rearrange: axis length given for 'x', which is not in pattern",
    ),
    (
        "rearrange",
        {"pattern": "b (h d) -> b h d", "h": 0},
        ValueError,
        r"rearrange: axis length h=0 must be a positive int",
    ),
    ("rearrange", {"pattern": "b ... -> b"}, ValueError, r"rearrange: '\.\.\.' must appear on both sides"),
    (
        "repeat",
        {"pattern": "b d -> b r d"},
        ValueError,
        r"repeat: new axes r of 'b d -> b r d' need lengths, e\.g\. r=3",
    ),
    (
        "repeat",
        {"pattern": "b d -> b r", "r": 2},
        ValueError,
        r"repeat: axes d of the input are missing from the output",
    ),
    (
        "reduce",
        {"pattern": "b d -> b", "reduction": "median"},
        ValueError,
        r"reduce: reduction must be one of min, max, sum, mean, prod, any, all or a callable; got 'median'",
    ),
    ("reduce", {"pattern": "b d -> b d e"}, ValueError, r"reduce: axes e appear only in the output"),
    (
        "rearrange",
        {},
        TypeError,
        r"conversion step 'rearrange' rejected parameters \[\].*expected: pattern, \*\*axes_lengths",
    ),
]


@pytest.mark.parametrize(
    ("name", "params", "error", "message"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)]
)
def test_constructor_errors_say_what_was_expected(
    name: str, params: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        conversion_steps.create(name, **params)


def test_revert_checks_the_view_against_the_pattern() -> None:
    step = conversion_steps.create("rearrange", pattern="b p (h d) -> b p h d", h=2)
    with pytest.raises(
        ValueError, match=r"the edited view has shape \(2, 3\); pattern .* gives 4 dimensions"
    ):
        step.revert(torch.zeros(2, 3), torch.zeros(2, 3, 4))


def test_reduce_is_read_only() -> None:
    step = conversion_steps.create("reduce", pattern="b p d -> b d", reduction="mean")
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(step.convert(x), x.mean(1))
    with pytest.raises(NonInvertibleConversionError, match=r"reduce\('b p d -> b d', 'mean'\) is read-only"):
        step.revert(step.convert(x), x)
    custom = conversion_steps.create(
        "reduce", pattern="b p d -> b", reduction=lambda t, axes: t.amax(dim=axes)
    )
    assert torch.equal(custom.convert(x), x.amax(dim=(1, 2)))


def test_reduce_on_a_hook_point_reads_and_refuses_edits() -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape("reduce", pattern="b d -> b", reduction="sum")
    seen: list[torch.Tensor] = []
    hp.add_hook(lambda t, hook: seen.append(t))
    assert torch.equal(hp(torch.ones(2, 3)), torch.ones(2, 3))
    assert torch.equal(seen[0], torch.full((2,), 3.0))
    hp.add_hook(lambda t, hook: t * 0)
    with pytest.raises(NonInvertibleConversionError, match=r"'p'.*read-only"):
        hp(torch.ones(2, 3))


def test_select_by_name_on_a_hook_point() -> None:
    """The issue's example: enable_reshape("rearrange", pattern=..., h=4)."""
    hp = HookPoint(name="p")
    hp.enable_reshape("rearrange", pattern="b p (h d) -> b p h d", h=4)
    shapes: list[tuple[int, ...]] = []
    hp.add_hook(lambda t, hook: shapes.append(tuple(t.shape)))
    hp.add_hook(lambda t, hook: t.flip(-2))  # reverse the head order
    x = torch.arange(16.0).reshape(1, 2, 8)
    assert shapes == [] and torch.equal(hp(x), x.reshape(1, 2, 4, 2).flip(-2).reshape(1, 2, 8))
    assert shapes == [(1, 2, 4, 2)]


def test_inverse_is_cached_per_shape_without_per_tensor_state() -> None:
    step = Rearrange("b (h d) -> b h d", h=2)
    a, b = torch.randn(3, 8), torch.randn(5, 4)
    va, vb = step.convert(a), step.convert(b)
    assert torch.equal(step.revert(vb, b), b) and torch.equal(step.revert(va, a), a)
    assert len(step._inverses) == 2
    assert torch.equal(step.revert(va.clone(), a.clone()), a)
    assert len(step._inverses) == 2


def test_reprs() -> None:
    assert (
        repr(conversion_steps.create("rearrange", pattern="b (h d) -> b h d", h=2))
        == "rearrange('b (h d) -> b h d', h=2)"
    )
    assert repr(conversion_steps.create("reduce", pattern="b d -> b")) == "reduce('b d -> b', 'mean')"


def test_read_only_descriptor_check() -> None:
    descriptor = dataclasses.replace(hookpoints.conversions.get("reduce"))
    check_conversion_step(descriptor, params={"pattern": "b ... -> b", "reduction": "sum"})


@pytest.mark.parametrize(
    ("pattern", "claims_view"),
    [
        ("b p (h d) -> b p h d", True),
        ("b p (h d) -> b h p d", True),
        ("... (h d) -> ... h d", True),
        ("b p (h d) -> b 1 p h () d", True),
        ("b p h d -> b p (h d)", False),  # merging copies non-contiguous inputs
        ("b ... -> (...) b", False),  # '...' in parentheses may merge several axes
        ("b p h d -> b p (h 1 d)", False),
    ],
)
def test_rearrange_claims_a_view_only_without_merges(pattern: str, claims_view: bool) -> None:
    """Only split/permute patterns skip revert for in-place edits (the conformance cases above
    check that the claim holds, editing the view in place on two memory layouts)."""
    lengths = {"h": 2} if "(h d)" in pattern.split("->")[0] else {}
    assert (
        conversion_steps.create("rearrange", pattern=pattern, **lengths).convert_returns_view is claims_view
    )
