"""Discovery, conformance, descriptors, constructor errors and the semantics of each step."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from hookpoints_tensor_ops import Chain, SplitHeads

import hookpoints
from hookpoints import BaseTensorConversion, HookPoint, NonInvertibleConversionError
from hookpoints.plugins import conversion_steps
from hookpoints.testing import check_conversion_step

OURS = (
    "reshape",
    "split_heads",
    "merge_heads",
    "permute",
    "transpose",
    "select_chunk",
    "add",
    "sub",
    "mul",
    "div",
    "cast",
    "chain",
    "callable_pair",
)


# ---------------------------------------------------------------------------- discovery
@pytest.mark.parametrize("name", OURS)
def test_discovered_through_entry_point(name: str) -> None:
    source = hookpoints.conversions.source(name)
    assert source.distribution == "hookpoints-tensor-ops" and source.plugin == "tensor_ops"


@pytest.mark.parametrize("name", OURS)
def test_descriptors_are_invertible(name: str) -> None:
    assert (
        hookpoints.conversions.get(name).invertible is True
    )  # chain / callable_pair may build read-only instances


# ---------------------------------------------------------------------------- conformance
INT_DTYPES = (torch.int64, torch.int32)

# (step, params, shapes, dtypes); the check's default dtypes are float32, float64, bfloat16.
CONFORMANCE: list[tuple[str, dict[str, Any], list[tuple[int, ...]], tuple[torch.dtype, ...] | None]] = [
    ("split_heads", {"n_heads": 4}, [(2, 3, 8), (1, 5, 4, 8), (4, 8)], None),
    ("split_heads", {"n_heads": 4}, [(2, 3, 8)], INT_DTYPES),
    ("merge_heads", {"n_heads": 4}, [(2, 3, 4, 2), (4, 8), (1, 5, 4, 3)], None),
    ("permute", {"dims": (2, 0, 1)}, [(2, 3, 8), (4, 1, 5)], None),
    ("permute", {"dims": (-1, 0, 1)}, [(2, 3, 8)], INT_DTYPES),
    ("transpose", {}, [(2, 3, 8), (1, 5, 4, 8), (4, 8)], None),
    ("transpose", {"dim0": 0, "dim1": -1}, [(2, 3, 8)], INT_DTYPES),
    # Random normal inputs: only powers of two scale them exactly.
    ("mul", {"value": 4.0}, [(2, 3, 8), (4, 8)], None),
    ("mul", {"value": torch.tensor([0.5, 2.0] * 4)}, [(2, 3, 8), (4, 8)], None),
    ("mul", {"value": 3}, [(2, 3, 8)], INT_DTYPES),
    ("div", {"value": -0.25}, [(2, 3, 8), (4, 8)], None),
    # Adding any non-zero number to random normal floats rounds, so floats are checked with
    # 0 (shapes, dtypes, gradients) and the exact round trip on integers.
    ("add", {"value": 0.0}, [(2, 3, 8), (4, 8)], None),
    ("add", {"value": 7}, [(2, 3, 8), (4, 8)], INT_DTYPES),
    ("sub", {"value": torch.zeros(8)}, [(2, 3, 8)], None),
    ("sub", {"value": torch.arange(8)}, [(2, 3, 8)], INT_DTYPES),
    (
        "chain",
        {"steps": [("split_heads", {"n_heads": 2}), ("transpose", {"dim0": -3, "dim1": -2})]},
        [(2, 3, 8)],
        None,
    ),
    (
        "callable_pair",
        {"convert_fn": lambda x: x.flip(-1), "revert_fn": lambda v: v.flip(-1)},
        [(2, 3, 8)],
        None,
    ),
]

# Steps whose revert needs the original activation (the check passes it, as HookPoint does).
CONFORMANCE_WITH_ORIGINAL: list[
    tuple[str, dict[str, Any], list[tuple[int, ...]], tuple[torch.dtype, ...] | None]
] = [
    ("reshape", {"shape": (-1,)}, [(2, 3, 8), (1, 5, 4, 8), (4, 8)], None),
    ("reshape", {"shape": (6, -1)}, [(2, 3, 8), (3, 2, 4)], INT_DTYPES),
    ("merge_heads", {}, [(2, 3, 4, 2), (4, 8)], None),
    ("cast", {"dtype": torch.float64}, [(2, 3, 8), (4, 8)], None),
    ("cast", {"dtype": "float64"}, [(2, 3, 8)], INT_DTYPES),
    (
        "chain",
        {"steps": [("cast", {"dtype": "float64"}), ("reshape", {"shape": (-1,)})]},
        [(2, 3, 8), (4, 8)],
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "params", "shapes", "dtypes"), CONFORMANCE, ids=lambda v: v if isinstance(v, str) else ""
)
def test_step_passes_conformance_check(name: str, params: dict[str, Any], shapes: Any, dtypes: Any) -> None:
    check_conversion_step(name, params=params, shapes=shapes, **({"dtypes": dtypes} if dtypes else {}))


@pytest.mark.parametrize(
    ("name", "params", "shapes", "dtypes"),
    CONFORMANCE_WITH_ORIGINAL,
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_step_needing_the_original_passes_conformance_check(
    name: str, params: dict[str, Any], shapes: Any, dtypes: Any
) -> None:
    check_conversion_step(name, params=params, shapes=shapes, **({"dtypes": dtypes} if dtypes else {}))


def test_only_steps_whose_convert_is_always_a_view_claim_it() -> None:
    """The claim lets a hook point skip revert for in-place edits; conformance checks it holds."""
    claims = {
        name: bool(getattr(conversion_steps.create(name, **params), "convert_returns_view", False))
        for name, params in [
            ("split_heads", {"n_heads": 2}),
            ("permute", {"dims": (1, 0)}),
            ("transpose", {}),
            ("select_chunk", {"index": 0, "chunks": 2}),
            ("merge_heads", {}),  # flatten copies non-contiguous inputs
            ("reshape", {"shape": (-1,)}),
            ("cast", {"dtype": "float64"}),
            ("mul", {"value": 2.0}),
            ("callable_pair", {"convert_fn": torch.relu, "revert_fn": torch.relu}),
        ]
    }
    assert {name for name, claimed in claims.items() if claimed} == {
        "split_heads",
        "permute",
        "transpose",
        "select_chunk",
    }
    views = [("split_heads", {"n_heads": 2}), ("transpose", {})]
    assert conversion_steps.create("chain", steps=views).convert_returns_view
    assert not conversion_steps.create(
        "chain", steps=[*views, ("reshape", {"shape": (-1,)})]
    ).convert_returns_view


def test_select_chunk_passes_conformance_check() -> None:
    check_conversion_step("select_chunk", params={"index": 1, "chunks": 2}, shapes=[(2, 3, 8)])


def test_select_chunk_conformance_without_gradients() -> None:
    """The value part of the check (integers skip its gradient part)."""
    check_conversion_step(
        "select_chunk",
        params={"index": -1, "chunks": 4, "dim": 1},
        shapes=[(2, 8, 3)],
        dtypes=INT_DTYPES,
    )


@pytest.mark.parametrize(
    "params",
    [{"convert_fn": lambda x: x * 2}, {"steps": [("callable_pair", {"convert_fn": torch.relu})]}],
    ids=["callable_pair", "chain"],
)
def test_read_only_instances_pass_the_read_only_check(params: dict[str, Any]) -> None:
    name = "callable_pair" if "convert_fn" in params else "chain"
    descriptor = dataclasses.replace(hookpoints.conversions.get(name), invertible=False)
    check_conversion_step(descriptor, params=params)
    assert conversion_steps.create(name, **params).invertible is False


# ---------------------------------------------------------------------------- constructor errors
ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("reshape", {"shape": "2,3"}, TypeError, r"reshape: shape must be a sequence of ints"),
    (
        "reshape",
        {"shape": (-1, 2, -1)},
        ValueError,
        r"reshape: shape may hold at most one -1; got \(-1, 2, -1\)",
    ),
    ("reshape", {"shape": (2, -3)}, ValueError, r"reshape: each dimension of shape must be >= -1; got -3"),
    ("split_heads", {"n_heads": 0}, ValueError, r"split_heads: n_heads must be >= 1; got 0"),
    ("split_heads", {"n_heads": 2.0}, TypeError, r"split_heads: n_heads must be an int; got float 2.0"),
    (
        "split_heads",
        {},
        TypeError,
        r"conversion step 'split_heads' rejected parameters \[\].*expected: n_heads",
    ),
    ("merge_heads", {"n_heads": -1}, ValueError, r"merge_heads: n_heads must be >= 1; got -1"),
    (
        "permute",
        {"dims": (0, 0, 1)},
        ValueError,
        r"permute: dims \(0, 0, 1\) are not a permutation of 0\.\.2",
    ),
    ("permute", {"dims": (0, 3)}, ValueError, r"permute: dims \(0, 3\) must each lie in \[-2, 1\]"),
    ("permute", {"dims": ()}, ValueError, r"permute: dims must not be empty"),
    ("transpose", {"dim0": "a"}, TypeError, r"transpose: dim0 must be an int"),
    (
        "select_chunk",
        {"index": 3, "chunks": 3},
        ValueError,
        r"select_chunk: index 3 is out of range for chunks=3 \(expected 0\.\.2",
    ),
    ("select_chunk", {"index": 0, "chunks": 0}, ValueError, r"select_chunk: chunks must be >= 1; got 0"),
    ("mul", {"value": 0}, ValueError, r"mul: value is zero; mul by zero cannot be reverted"),
    ("div", {"value": 0.0}, ValueError, r"div: value is zero; div by zero cannot be reverted"),
    ("div", {"value": -0.0}, ValueError, r"div: value is zero"),
    (
        "mul",
        {"value": torch.tensor([1.0, 0.0, 0.0])},
        ValueError,
        r"mul: value has 2 zero entries; mul by zero",
    ),
    ("add", {"value": float("inf")}, ValueError, r"add: value must be finite to be reversible; got inf"),
    ("mul", {"value": torch.tensor([1.0, float("nan")])}, ValueError, r"mul: value must be finite"),
    ("sub", {"value": "1"}, TypeError, r"sub: value must be a real number or a Tensor; got str"),
    ("add", {"value": True}, TypeError, r"add: value must be a real number or a Tensor; got bool"),
    (
        "cast",
        {"dtype": "flot64"},
        TypeError,
        r"cast: dtype must be a torch\.dtype or its name \(e\.g\. 'float64'\); got 'flot64'",
    ),
    ("chain", {"steps": []}, ValueError, r"chain: steps must hold at least one step"),
    ("chain", {"steps": "split_heads"}, TypeError, r"chain: steps must be a list"),
    (
        "chain",
        {"steps": [("split_heads", {"n_heads": 2}), 3]},
        TypeError,
        r"chain: step 1 must be a step name, a \(name, params\) pair",
    ),
    (
        "chain",
        {"steps": [("split_heads", 2)]},
        TypeError,
        r"chain: step 0 \('split_heads'\) needs its params as a mapping",
    ),
    ("chain", {"steps": [("no_such_step", {})]}, KeyError, r"no conversion step named 'no_such_step'"),
    ("callable_pair", {"convert_fn": 1}, TypeError, r"callable_pair: convert_fn must be callable"),
    (
        "callable_pair",
        {"convert_fn": abs, "revert_fn": 2},
        TypeError,
        r"callable_pair: revert_fn must be None \(read-only\) or callable",
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


CALL_ERRORS: list[tuple[str, dict[str, Any], tuple[int, ...], str]] = [
    (
        "split_heads",
        {"n_heads": 3},
        (2, 10),
        r"^split_heads\(n_heads=3\): the activation's width \(last dimension\) is 10, which is not divisible "
        r"by n_heads=3; expected a width n_heads \* d_head \(a multiple of 3\); divisors of 10: 1, 2, 5, 10$",
    ),
    (
        "merge_heads",
        {"n_heads": 3},
        (2, 2, 5),
        r"merge_heads: expected a tensor \[\.\.\., n_heads=3, d_head\]; got shape \(2, 2, 5\)",
    ),
    (
        "reshape",
        {"shape": (5, -1)},
        (2, 4),
        r"reshape: cannot reshape a tensor of shape \(2, 4\) \(8 elements\) to \(5, -1\)",
    ),
    (
        "permute",
        {"dims": (1, 0)},
        (2, 3, 4),
        r"permute: dims \(1, 0\) need a 2-dim tensor; the input has shape \(2, 3, 4\)",
    ),
    (
        "transpose",
        {"dim0": 0, "dim1": 5},
        (2, 3),
        r"transpose: dims \(0, 5\) are out of range for the input of shape \(2, 3\)",
    ),
    (
        "select_chunk",
        {"index": 0, "chunks": 3},
        (2, 10),
        r"select_chunk: dimension -1 of the input has size 10, which is not divisible by chunks=3",
    ),
    (
        "add",
        {"value": torch.ones(2, 3)},
        (3,),
        r"add: a value of shape \(2, 3\) broadcasts the activation of shape \(3,\) to \(2, 3\)",
    ),
]


@pytest.mark.parametrize(("name", "params", "shape", "message"), CALL_ERRORS, ids=[e[0] for e in CALL_ERRORS])
def test_convert_errors_say_what_was_expected(
    name: str, params: dict[str, Any], shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        conversion_steps.create(name, **params).convert(torch.zeros(shape))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("reshape", {"shape": (-1,)}),
        ("cast", {"dtype": torch.float64}),
        ("select_chunk", {"index": 0, "chunks": 2}),
        ("merge_heads", {}),
    ],
)
def test_revert_without_the_original_says_it_needs_it(name: str, params: dict[str, Any]) -> None:
    conversion = conversion_steps.create(name, **params)
    view = conversion.convert(torch.zeros(2, 4, 2))
    with pytest.raises(TypeError, match=rf"{name}: revert needs .*original"):
        conversion.revert(view)


def test_revert_checks_the_edited_view_against_the_original() -> None:
    chunk = conversion_steps.create("select_chunk", index=1, chunks=2)
    with pytest.raises(
        ValueError,
        match=r"the edited chunk has shape \(2, 3\); chunk 1 of 2 along dim -1 of \(2, 4\) has shape "
        r"\(2, 2\)",
    ):
        chunk.revert(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(
        ValueError, match=r"split_heads: revert expected a view \[\.\.\., n_heads=2, d_head\]"
    ):
        conversion_steps.create("split_heads", n_heads=2).revert(torch.zeros(3, 4))


# ---------------------------------------------------------------------------- semantics
def test_select_chunk_writes_back_out_of_place() -> None:
    qkv = torch.arange(12.0).reshape(2, 6)
    before = qkv.clone()
    chunk = conversion_steps.create("select_chunk", index=1, chunks=3)
    out = chunk.revert(chunk.convert(qkv) * 0, qkv)
    assert torch.equal(qkv, before), "the original must not be modified"
    assert torch.equal(out, torch.tensor([[0.0, 1, 0, 0, 4, 5], [6, 7, 0, 0, 10, 11]]))


def test_arithmetic_revert_restores_integer_dtype() -> None:
    x = torch.arange(-5, 5)
    for name, value in [("add", 0.5), ("div", 3), ("mul", 0.5)]:
        step = conversion_steps.create(name, value=value)
        view = step.convert(x)
        assert view.is_floating_point()
        back = step.revert(view, x)
        assert back.dtype == x.dtype and torch.equal(back, x), name


def test_cast_revert_follows_the_original_not_the_last_input() -> None:
    cast = conversion_steps.create("cast", dtype=torch.float64)
    a, b = torch.ones(3, dtype=torch.bfloat16), torch.ones(3, dtype=torch.float32)
    view_a = cast.convert(a)
    cast.convert(b)  # no state: converting another tensor in between changes nothing
    assert cast.revert(view_a, a).dtype == torch.bfloat16


def test_chain_keeps_no_state_between_calls() -> None:
    chain = conversion_steps.create(
        "chain", steps=[("select_chunk", {"index": 1, "chunks": 2}), ("cast", {"dtype": torch.float64})]
    )
    x1, x2 = torch.arange(4.0), torch.arange(10.0, 16.0, dtype=torch.bfloat16)
    v1, v2 = chain.convert(x1), chain.convert(x2)
    # Reverting in the other order, interleaved: each uses only the original it is given.
    assert torch.equal(chain.revert(v2 * 0, x2), torch.tensor([10.0, 11, 12, 0, 0, 0], dtype=torch.bfloat16))
    assert torch.equal(chain.revert(v1 + 1, x1), torch.tensor([0.0, 1, 3, 4]))


def test_chain_recomputes_only_up_to_the_last_step_needing_an_original() -> None:
    calls: list[str] = []

    class Counting(SplitHeads):
        def convert(self, x: torch.Tensor, *context: Any) -> torch.Tensor:
            calls.append("convert")
            return super().convert(x)

    chain = Chain([Counting(2), ("transpose", {})])
    x = torch.zeros(3, 4)
    chain.revert(chain.convert(x), x)
    assert calls == ["convert"], "neither step needs an original: no recomputation on revert"
    assert chain.needs_original is False
    tail = Chain([Counting(2), ("reshape", {"shape": (-1,)})])
    calls.clear()
    tail.revert(tail.convert(x), x)
    assert calls == ["convert", "convert"]


def test_chain_with_tl_style_steps_and_nested_chains() -> None:
    class Doubler:  # revert takes the view only
        def convert(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

        def revert(self, x: torch.Tensor) -> torch.Tensor:
            return x / 2

    class TLStyle(BaseTensorConversion):  # TransformerLens-style, *full_context
        def handle_conversion(self, x: torch.Tensor, *full_context: Any) -> torch.Tensor:
            return x.flip(0)

        def handle_revert(self, x: torch.Tensor, *full_context: Any) -> torch.Tensor:
            return x.flip(0)

    inner = conversion_steps.create("chain", steps=[Doubler(), "identity"])
    chain = conversion_steps.create("chain", steps=[inner, TLStyle(), ("split_heads", {"n_heads": 2})])
    x = torch.arange(8.0).reshape(2, 4)
    assert torch.equal(chain.convert(x), (x * 2).flip(0).unflatten(-1, (2, 2)))
    assert torch.equal(chain.revert(chain.convert(x), x), x)


def test_read_only_chain_reads_but_refuses_edits() -> None:
    chain = conversion_steps.create(
        "chain", steps=[("split_heads", {"n_heads": 2}), ("callable_pair", {"convert_fn": torch.relu})]
    )
    assert chain.invertible is False
    hp = HookPoint(name="p")
    hp.enable_reshape(chain)
    seen: list[torch.Tensor] = []
    hp.add_hook(lambda t, hook: seen.append(t))
    hp(torch.tensor([[-1.0, 2, 3, -4]]))
    assert torch.equal(seen[0], torch.tensor([[[0.0, 2], [3, 0]]]))
    hp.add_hook(lambda t, hook: t * 0)
    with pytest.raises(NonInvertibleConversionError, match=r"chain: step 1 .* is read-only"):
        hp(torch.ones(1, 4))


def test_callable_pair_without_revert_fn_is_read_only() -> None:
    pair = conversion_steps.create("callable_pair", convert_fn=torch.relu)
    assert pair.invertible is False
    with pytest.raises(NonInvertibleConversionError, match="callable_pair was built without revert_fn"):
        pair.revert(torch.ones(2))


def test_callable_pair_revert_fn_needing_the_original() -> None:
    pair = conversion_steps.create(
        "callable_pair", convert_fn=lambda x: x[:2], revert_fn=lambda v, o: torch.cat([v, o[2:]])
    )
    with pytest.raises(TypeError, match=r"callable_pair: revert_fn takes \(view, original\) but no original"):
        pair.revert(torch.ones(2))


def test_enable_reshape_by_name_and_bad_params() -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape("split_heads", n_heads=2)
    hp.add_hook(lambda t, hook: t.flip(-2))  # swap the two heads
    assert torch.equal(hp(torch.arange(4.0)), torch.tensor([2.0, 3, 0, 1]))
    with pytest.raises(TypeError, match=r"rejected parameters \['heads'\].*expected: n_heads"):
        hp.enable_reshape("split_heads", heads=2)


def test_reprs_name_the_step_and_its_params() -> None:
    assert repr(conversion_steps.create("split_heads", n_heads=4)) == "split_heads(n_heads=4)"
    assert (
        repr(conversion_steps.create("select_chunk", index=-1, chunks=3))
        == "select_chunk(index=2, chunks=3, dim=-1)"
    )
    assert (
        repr(conversion_steps.create("chain", steps=[("transpose", {})]))
        == "chain(steps=[transpose(dim0=-2, dim1=-1)])"
    )
