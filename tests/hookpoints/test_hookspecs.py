"""Every hookspec is documented, has a runnable example, and is exercised by a test."""

from __future__ import annotations

import inspect
import textwrap
import types
from pathlib import Path

import pytest

import hookpoints
from hookpoints.plugins import hookspecs
from hookpoints.registries import REGISTRIES

ROOT = Path(__file__).resolve().parents[2]


def test_every_hookspec_is_listed() -> None:
    declared = {n for n, f in vars(hookspecs).items() if n.startswith("hookpoints_") and callable(f)}
    assert declared == set(hookspecs.HOOKSPEC_NAMES) == {r.hook_name for r in REGISTRIES}


@pytest.mark.parametrize("name", hookspecs.HOOKSPEC_NAMES)
def test_hookspec_documented_in_writing_plugins(name: str) -> None:
    assert f"`{name}`" in (ROOT / "docs" / "writing-plugins.md").read_text()


@pytest.mark.parametrize("name", hookspecs.HOOKSPEC_NAMES)
def test_hookspec_is_exercised_by_another_test(name: str) -> None:
    others = [p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name]
    assert any(name in p.read_text() for p in others), f"no test besides this one mentions {name}"


@pytest.mark.parametrize("name", hookspecs.HOOKSPEC_NAMES)
def test_hookspec_docstring_example_runs_and_contributes(name: str) -> None:
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
    finally:
        hookpoints.plugins.unregister(registered)
