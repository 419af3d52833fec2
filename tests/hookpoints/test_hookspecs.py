"""Every hookspec is documented and has a runnable example that works where users reach it."""

from __future__ import annotations

import inspect
import textwrap
import types
from pathlib import Path

import pytest
import torch

import hookpoints
from hookpoints.plugins import hookspecs
from hookpoints.registries import REGISTRIES
from hookpoints.testing import check_alias_scheme, small_gpt, small_tokens

ROOT = Path(__file__).resolve().parents[2]


def test_every_hookspec_is_listed() -> None:
    declared = {n for n, f in vars(hookspecs).items() if n.startswith("hookpoints_") and callable(f)}
    assert declared == set(hookspecs.HOOKSPEC_NAMES) == {r.hook_name for r in REGISTRIES}


@pytest.mark.parametrize("name", hookspecs.HOOKSPEC_NAMES)
def test_hookspec_documented_in_writing_plugins(name: str) -> None:
    assert f"`{name}`" in (ROOT / "docs" / "writing-plugins.md").read_text()


@pytest.mark.parametrize("name", hookspecs.HOOKSPEC_NAMES)
def test_hookspec_docstring_example_runs_and_contributes(name: str, tmp_path: Path) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc and "Example::" in doc, f"{name} has no example"
    code = textwrap.dedent(doc.split("Example::", 1)[1])
    namespace: dict[str, object] = {}
    exec(compile(code, f"<{name} example>", "exec"), namespace)
    plugin = types.SimpleNamespace(**{name: namespace[name]})
    registry = next(r for r in REGISTRIES if r.hook_name == name)
    before = set(registry.available())
    registered = hookpoints.plugins.register(plugin, name=f"example-{name}")
    try:
        added = set(registry.available()) - before
        assert len(added) == 1, f"the {name} example contributed {added}"
        USES[name](added.pop(), tmp_path)  # and it works where users reach it
    finally:
        hookpoints.plugins.unregister(registered)


def _use_conversion_step(step: str, tmp_path: Path) -> None:
    point = hookpoints.HookPoint(name="p")
    point.enable_reshape(step)
    seen = []
    point.add_hook(lambda t, hook: seen.append(t))
    point(torch.ones(2))
    assert torch.equal(seen[0], torch.full((2,), 2.0))  # the example scales by 2


def _use_alias_scheme(scheme: str, tmp_path: Path) -> None:
    check_alias_scheme(scheme, small_gpt())


def _use_reporter(reporter: str, tmp_path: Path) -> None:
    model = small_gpt()
    assert hookpoints.report(model, reporter=reporter) == f"{len(model.hook_dict)} hook points"


def _use_cache_sink(sink: str, tmp_path: Path) -> None:
    model = small_gpt()
    rows = hookpoints.capture(model, [small_tokens(batch=3)] * 2, "hook_embed", sink=sink)
    assert rows == {"hook_embed": 6}


def _use_cache_format(fmt: str, tmp_path: Path) -> None:
    cache = hookpoints.ActivationCache({"a": torch.arange(3.0)})
    cache.save(tmp_path / "cache.json")  # chosen by its suffix
    assert torch.equal(
        hookpoints.ActivationCache.load(tmp_path / "cache.json", format=fmt)["a"], torch.arange(3.0)
    )


USES = {
    "hookpoints_conversion_steps": _use_conversion_step,
    "hookpoints_alias_schemes": _use_alias_scheme,
    "hookpoints_reporters": _use_reporter,
    "hookpoints_cache_sinks": _use_cache_sink,
    "hookpoints_cache_formats": _use_cache_format,
}


def test_every_hookspec_has_a_use() -> None:
    assert set(USES) == set(hookspecs.HOOKSPEC_NAMES)
