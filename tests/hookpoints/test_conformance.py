"""hookpoints.testing: the core's own contributions pass, and broken ones are caught."""

from __future__ import annotations

import pytest
import torch

import hookpoints
from hookpoints.examples import TinyGPT
from hookpoints.extension_points import AliasRule, AliasScheme, ConversionStep, Reporter
from hookpoints.testing import check_alias_scheme, check_conversion_step, check_reporter

from .conftest import SMALL


def core_contributions(registry: object) -> list[str]:
    """Names the core itself contributes (plugins test their own in their own suites)."""
    return sorted(n for n in registry.available() if registry.source(n).distribution == "hookpoints")  # type: ignore[attr-defined]


def test_core_contributes_identity_text_and_json() -> None:
    assert core_contributions(hookpoints.conversions) == ["identity"]
    assert core_contributions(hookpoints.reports) == ["json", "text"]


@pytest.mark.parametrize("name", core_contributions(hookpoints.conversions))
def test_builtin_conversion_steps_conform(name: str) -> None:
    check_conversion_step(name)


@pytest.mark.parametrize("name", core_contributions(hookpoints.reports))
def test_builtin_reporters_conform(name: str) -> None:
    check_reporter(name, width=80)


class Lossy:
    def convert(self, x: torch.Tensor) -> torch.Tensor:
        return x.half()

    def revert(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()


class Unreverted:
    def convert(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1

    def revert(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_conversion_check_catches_lossy_revert() -> None:
    with pytest.raises(AssertionError, match="'lossy'.*(dtype|differs)"):
        check_conversion_step(ConversionStep("lossy", "drops precision", Lossy))


def test_conversion_check_catches_read_only_step_that_reverts_silently() -> None:
    with pytest.raises(AssertionError, match="declared read-only but revert\\(\\) did not raise"):
        check_conversion_step(ConversionStep("ro", "read only", Unreverted, invertible=False))


class CopyClaimingView:
    """Claims its convert returns a view, but copies: in-place edits would be lost."""

    convert_returns_view = True

    def convert(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    def revert(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_conversion_check_catches_a_false_view_claim() -> None:
    with pytest.raises(AssertionError, match="'copy'.*declares convert_returns_view"):
        check_conversion_step(ConversionStep("copy", "copies", CopyClaimingView))

    class CopyWithoutClaim(CopyClaimingView):
        convert_returns_view = False

    check_conversion_step(ConversionStep("copy", "copies", CopyWithoutClaim))  # no claim: fine


class ExpandedClaimingView:
    """Claims a view, and is one, but several of its elements share memory."""

    convert_returns_view = True

    def convert(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(2, *x.shape)

    def revert(self, x: torch.Tensor) -> torch.Tensor:
        return x[0]


def test_conversion_check_says_when_a_claimed_view_cannot_be_edited_in_place() -> None:
    with pytest.raises(
        AssertionError, match="'expand'.*declares convert_returns_view.*cannot be edited in place"
    ):
        check_conversion_step(ConversionStep("expand", "overlapping", ExpandedClaimingView))


class Negate:
    def convert(self, x: torch.Tensor) -> torch.Tensor:
        return -x

    def revert(self, x: torch.Tensor) -> torch.Tensor:
        return -x


def test_conversion_check_handles_scalars_and_empty_tensors() -> None:
    check_conversion_step(ConversionStep("negate", "negates", Negate), shapes=[(), (0, 3), (2, 0, 4), (1, 5)])


def test_reporter_check_catches_overwide_output() -> None:
    class Wide:
        def render(self, report, *, width=100, color=False):  # type: ignore[no-untyped-def]
            return "x" * (width + 1)

    with pytest.raises(AssertionError, match="wider than 40"):
        check_reporter(Reporter("wide", "too wide", Wide), width=40)


def test_alias_scheme_check_passes_and_resolves_on_a_model() -> None:
    scheme = AliasScheme(
        "short",
        "short names",
        rules=(
            AliasRule("resid_{layer}", "blocks.{layer}.hook_resid_post"),
            AliasRule("embed", "hook_embed"),
        ),
    )
    check_alias_scheme(scheme, TinyGPT(SMALL))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((AliasRule("a", "hook_embed"), AliasRule("a", "hook_pos_embed")), "defined twice"),
        ((AliasRule("a", "b"), AliasRule("b", "hook_embed")), "is itself an alias"),
        ((AliasRule("a", "a"),), "is itself an alias"),
        ((AliasRule("r_{layer}", "blocks.0.hook_resid_post"),), "different fields"),
        ((AliasRule("x", "hook_nope"),), "expects hook point 'hook_nope'"),
        (
            (
                AliasRule("r", "blocks.{layer}.hook_resid_post".replace("{layer}", "0")),
                AliasRule("r_{layer}", "blocks.{layer}.hook_resid_post"),
                AliasRule("r_1", "hook_embed"),
            ),
            "produced by several rules",
        ),
        ((AliasRule("v", "hook_embed", (("no_such_step", {}),)),), "no conversion step named 'no_such_step'"),
    ],
)
def test_alias_scheme_check_catches(rules: tuple[AliasRule, ...], message: str) -> None:
    with pytest.raises((AssertionError, KeyError), match=message):
        check_alias_scheme(AliasScheme("bad", "bad", rules=rules), TinyGPT(SMALL))
