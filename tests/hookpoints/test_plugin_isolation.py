"""Contributions that raise when used are named (name, plugin, distribution, version) and
isolated: a broken reporter never breaks report() with another one, a raising sink is named."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hookpoints
from hookpoints import hookimpl
from hookpoints.errors import ContributionError, DuplicateNameError, PluginError
from hookpoints.examples import TinyGPT
from hookpoints.extension_points import CacheSink, Reporter
from hookpoints.plugins import HOST, PluginWarning, Provenance
from hookpoints.plugins import conversion_steps as CONVERSIONS
from hookpoints.plugins import reporters as REPORTERS

PLUGIN = "isolation-test"
WHERE = r"\(plugin 'isolation-test' from hp-isolation 9\.9\)"


class _Kaput:
    def render(self, report: Any, *, width: int = 100, color: bool = False) -> str:
        raise RuntimeError("kaput")


class _NotText:
    def render(self, report: Any, *, width: int = 100, color: bool = False) -> Any:
        return 42


def _no_build() -> Any:
    raise ImportError("no module named 'fancy_terminal'")


class _Leaky:
    """A sink whose write, end_batch or finalize raises, as chosen by its parameter."""

    def __init__(self, fail_in: str = "write") -> None:
        self.fail_in = fail_in

    def write(self, name: str, tensor: Any, *, batch: int) -> None:
        if self.fail_in == "write":
            raise OSError("disk full")

    def end_batch(self, batch: int) -> None:
        if self.fail_in == "end_batch":
            raise ValueError("bad batch")

    def finalize(self) -> Any:
        if self.fail_in == "finalize":
            raise RuntimeError("cannot close")
        return "done"


class _Broken:
    @hookimpl
    def hookpoints_reporters(self) -> Iterator[Reporter]:
        yield Reporter("kaput", "raises when it renders", _Kaput, priority=100)  # the default
        yield Reporter("not_text", "renders an int", _NotText, priority=90)
        yield Reporter("unbuildable", "its factory raises", _no_build, priority=80)

    @hookimpl
    def hookpoints_cache_sinks(self) -> Iterator[CacheSink]:
        yield CacheSink("leaky", "raises where asked", _Leaky)


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("HOOKPOINTS_STRICT_PLUGINS", raising=False)
    HOST.manager()  # loaded, so that registering records the source now
    name = hookpoints.plugins.register(_Broken(), name=PLUGIN)
    # what an installed distribution's entry point records (in-process plugins have none)
    HOST._sources[name] = Provenance(name, "hp-isolation", "9.9")
    yield name
    hookpoints.plugins.unregister(name)
    HOST.refresh()


def _untouched(gpt: TinyGPT) -> bool:
    return all(not p.fwd_hooks and not p.bwd_hooks for p in gpt.hook_points()) and gpt.context_level == 0


@pytest.mark.parametrize(
    ("reporter", "message", "cause"),
    [
        ("kaput", rf"^reporter 'kaput' {WHERE} raised RuntimeError: kaput$", RuntimeError),
        ("not_text", rf"^reporter 'not_text' {WHERE} rendered a int; a reporter must return a str$", None),
        ("unbuildable", rf"^reporter 'unbuildable' {WHERE} raised ImportError: no module", ImportError),
    ],
)
def test_a_named_reporter_that_raises_is_named_with_its_plugin(
    broken: str, gpt: TinyGPT, reporter: str, message: str, cause: type[Exception] | None
) -> None:
    with pytest.raises(ContributionError, match=message) as caught:
        hookpoints.report(gpt, reporter=reporter)
    error = caught.value
    assert isinstance(error, PluginError) and isinstance(error, RuntimeError)
    assert (error.kind, error.name, error.source) == (
        "reporter",
        reporter,
        Provenance(PLUGIN, "hp-isolation", "9.9"),
    )
    if cause is not None:
        assert isinstance(error.__cause__, cause)
    assert _untouched(gpt)


def test_broken_reporters_never_break_report_with_another(
    broken: str, gpt: TinyGPT, tokens: torch.Tensor
) -> None:
    assert hookpoints.reports.default().name == "kaput"  # the broken one has the highest priority
    _, cache = gpt.run_with_cache(tokens)
    healthy = [n for n in hookpoints.reports.available() if n not in ("kaput", "not_text", "unbuildable")]
    expected = {name: hookpoints.report(gpt, cache, reporter=name, width=100) for name in healthy}
    with pytest.warns(PluginWarning) as caught:
        text = hookpoints.report(gpt, cache, width=100)  # the default falls back, and says so
    fallback = next(r.name for r in hookpoints.reports.registry.by_priority() if r.name in healthy)
    assert text == expected[fallback]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3
    for name in ("kaput", "not_text", "unbuildable"):
        assert any(
            f"reporter {name!r}" in m and "hp-isolation 9.9" in m and f"used the reporter {fallback!r}" in m
            for m in messages
        )


@pytest.mark.parametrize(
    ("fail_in", "error", "call"),
    [
        ("write", OSError, r"write\('hook_embed', batch=0\)"),
        ("end_batch", ValueError, r"end_batch\(0\)"),
        ("finalize", RuntimeError, r"finalize\(\)"),
    ],
)
def test_a_sink_that_raises_is_named_with_its_plugin(
    broken: str, gpt: TinyGPT, tokens: torch.Tensor, fail_in: str, error: type[Exception], call: str
) -> None:
    reference = gpt(tokens)
    note = rf"\(raised by cache sink 'leaky' {WHERE} in {call}\)"
    with pytest.raises(error) as caught:  # the sink's own error type is kept
        hookpoints.capture(gpt, [tokens], names_filter="hook_embed", sink="leaky", fail_in=fail_in)
    assert any(re.fullmatch(note, n) for n in caught.value.__notes__), caught.value.__notes__
    assert _untouched(gpt)
    assert torch.equal(gpt(tokens), reference)


def test_run_with_cache_names_a_raising_sink(broken: str, gpt: TinyGPT, tokens: torch.Tensor) -> None:
    reference = gpt(tokens)
    with pytest.raises(OSError, match="disk full") as caught:
        gpt.run_with_cache(tokens, names_filter="hook_embed", sink="leaky")
    assert (
        "(raised by cache sink 'leaky' (plugin 'isolation-test' from hp-isolation 9.9) in write('hook_embed', batch=0))"
        in caught.value.__notes__
    )
    assert _untouched(gpt)
    assert torch.equal(gpt(tokens), reference)
    assert hookpoints.capture(gpt, [tokens], names_filter="hook_embed", sink="memory").keys() == {
        "hook_embed"
    }


# ---------------------------------------------------------------- property: random plugin sets
KINDS = ("good", "broken_at_load", "duplicate", "raising_when_used")


def _plugin(kind: str, index: int) -> object:
    """An in-process plugin of ``kind``; its contributions carry ``index`` in their names."""
    from hookpoints import IdentityConversion
    from hookpoints.extension_points import ConversionStep

    class Plugin:
        @hookimpl
        def hookpoints_conversion_steps(self) -> Iterator[ConversionStep]:
            if kind == "broken_at_load":
                raise RuntimeError(f"plugin {index} cannot list its steps")
            if kind == "good":
                yield ConversionStep(f"good{index}", "identity", IdentityConversion)
            if kind == "duplicate":
                yield ConversionStep("shared", "claimed by every duplicate plugin", IdentityConversion)

        @hookimpl
        def hookpoints_reporters(self) -> Iterator[Reporter]:
            if kind == "raising_when_used":
                yield Reporter(f"bad{index}", "raises when it renders", _Kaput, priority=100 + index)

        @hookimpl
        def hookpoints_cache_sinks(self) -> Iterator[CacheSink]:
            if kind == "good":
                yield CacheSink(f"keep{index}", "memory", "hookpoints.capturing.sinks:MemorySink")
            if kind == "raising_when_used":
                yield CacheSink(f"leak{index}", "raises in write", _Leaky)

    return Plugin()


@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_registry_serves_every_healthy_contribution_and_names_every_broken_one(
    kinds: list[str], gpt: TinyGPT, tokens: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOKPOINTS_STRICT_PLUGINS", raising=False)
    names = [f"random-plugin-{i}" for i in range(len(kinds))]
    HOST.refresh()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i, (kind, name) in enumerate(zip(kinds, names, strict=True)):
                hookpoints.plugins.register(_plugin(kind, i), name=name)
            conversions = hookpoints.conversions.available()
            sinks = hookpoints.capturing.sinks.available()
            reporters = hookpoints.reports.available()
        # built-ins always
        assert {"identity"} <= set(conversions) and {"memory", "cpu", "reduce"} <= set(sinks)
        assert {"text", "json"} <= set(reporters)
        duplicates = [n for k, n in zip(kinds, names, strict=True) if k == "duplicate"]
        for i, (kind, name) in enumerate(zip(kinds, names, strict=True)):
            if kind == "good":
                assert hookpoints.conversions.source(f"good{i}").plugin == name
                hookpoints.conversions.create(f"good{i}")
                assert hookpoints.capture(gpt, [tokens], "hook_embed", sink=f"keep{i}").keys() == {
                    "hook_embed"
                }
            elif kind == "broken_at_load":
                errors = [e for e in hookpoints.plugins.load_errors() if e.plugin == name]
                assert [e.stage for e in errors] == ["hook hookpoints_conversion_steps"]
                assert any(name in str(w.message) for w in caught)
            elif kind == "raising_when_used":
                with pytest.raises(
                    ContributionError, match=rf"^reporter 'bad{i}' \(plugin '{name}'\) raised"
                ):
                    hookpoints.report(gpt, reporter=f"bad{i}")
                with pytest.raises(OSError) as leak:
                    hookpoints.capture(gpt, [tokens], "hook_embed", sink=f"leak{i}")
                assert f"cache sink 'leak{i}' (plugin '{name}')" in leak.value.__notes__[0]
        if len(duplicates) >= 2:
            assert "shared" not in conversions
            assert {s.plugin for s in CONVERSIONS.conflicts()["shared"]} == set(duplicates)
            with pytest.raises(DuplicateNameError) as dup:
                hookpoints.conversions.get("shared")
            assert all(repr(n) in str(dup.value) for n in duplicates)
        elif duplicates:
            assert hookpoints.conversions.source("shared").plugin == duplicates[0]
        # a broken default reporter never breaks report(); a named healthy one is never affected
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)
            fallback = next(r.name for r in REPORTERS.by_priority() if not r.name.startswith("bad"))
            assert hookpoints.report(gpt, width=100) == hookpoints.report(gpt, reporter=fallback, width=100)
            assert hookpoints.report(gpt, reporter="text", width=100).startswith("hook point")
        assert _untouched(gpt)
    finally:
        for name in names:
            with contextlib.suppress(ValueError):
                hookpoints.plugins.unregister(name)
        HOST.refresh()
