"""The plugin host: discovery, isolation of broken plugins, strictness, allow/deny lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import hookpoints
from hookpoints import HookPoint, hookimpl
from hookpoints.errors import DuplicateNameError, UnknownNameError
from hookpoints.extension_points import AliasRule, AliasScheme, CacheSink, ConversionStep, Reporter
from hookpoints.plugins import HOST, PluginError, PluginWarning

from .plugin_dists import BROKEN_IMPORT, DUPLICATE, GOOD, RAISING_HOOK, build_wheel, pip_install


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four throwaway distributions, pip-installed into one folder (not the session venv)."""
    root = tmp_path_factory.mktemp("dists")
    wheels = [
        build_wheel(root, "hp-good", "1.2.3", {"good": "hp_good"}, {"hp_good": GOOD}),
        build_wheel(root, "hp-broken", "0.0.1", {"broken": "hp_broken"}, {"hp_broken": BROKEN_IMPORT}),
        build_wheel(root, "hp-dup", "2.0", {"dup": "hp_dup"}, {"hp_dup": DUPLICATE}),
        build_wheel(root, "hp-raising", "0.1", {"raising": "hp_raising"}, {"hp_raising": RAISING_HOOK}),
    ]
    target = root / "site"
    pip_install(wheels, target)
    return target


def run(site: Path, code: str | None = None, *cli: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOOKPOINTS_")}
    environ.update(env, PYTHONPATH=os.pathsep.join([str(site), *sys.path]))
    args = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "hookpoints", *cli]
    return subprocess.run(args, capture_output=True, text=True, env=environ)


def plugins_json(site: Path, **env: str) -> dict[str, dict]:
    result = run(site, None, "plugins", "--json", **env)
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)["plugins"]}


def test_installed_plugin_is_listed_with_distribution_and_contributions(site: Path) -> None:
    plugins = plugins_json(site, HOOKPOINTS_LOAD_PLUGINS="good")
    assert list(plugins) == ["hookpoints.builtins", "good"]
    good = plugins["good"]
    assert (good["distribution"], good["version"]) == ("hp-good", "1.2.3")
    assert good["contributions"] == {"conversion step": ["scale"], "reporter": ["count"]}
    assert good["errors"] == []


def test_broken_plugin_is_reported_while_everything_else_works(site: Path) -> None:
    plugins = plugins_json(site, HOOKPOINTS_LOAD_PLUGINS="good,broken")
    (error,) = plugins["broken"]["errors"]
    assert error["stage"] == "import" and "hookpoints_missing_dependency" in error["error"]
    assert "hp-broken 0.0.1" in error["message"] and "Install the missing module" in error["hint"]
    assert plugins["good"]["contributions"]["conversion step"] == ["scale"]
    code = (
        "import warnings, hookpoints\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    names = sorted(hookpoints.conversions.available())\n"
        "print(names, len([w for w in caught if 'broken' in str(w.message)]))\n"
    )
    result = run(site, code, HOOKPOINTS_LOAD_PLUGINS="good,broken")
    assert result.stdout.strip() == "['identity', 'scale'] 1", result.stderr  # exactly one warning


def test_strict_mode_raises_naming_the_plugin(site: Path) -> None:
    code = "import hookpoints; hookpoints.conversions.available()"
    result = run(site, code, HOOKPOINTS_STRICT_PLUGINS="1", HOOKPOINTS_LOAD_PLUGINS="good,broken")
    assert result.returncode != 0
    assert "PluginError" in result.stderr and "'broken' (hp-broken 0.0.1) failed at import" in result.stderr


def test_duplicate_names_disable_only_that_name_and_name_both_distributions(site: Path) -> None:
    code = (
        "import hookpoints\n"
        "hookpoints.conversions.get('identity')  # built-ins and other names keep working\n"
        "hookpoints.HookPoint().enable_reshape('identity')\n"
        "hookpoints.conversions.get('scale')\n"
    )
    result = run(site, code, HOOKPOINTS_LOAD_PLUGINS="good,dup")
    assert result.returncode != 0 and "DuplicateNameError" in result.stderr.splitlines()[-1]
    last = result.stderr.splitlines()[-1]
    assert "hp-good 1.2.3" in last and "hp-dup 2.0" in last and "'scale'" in last and "disabled" in last
    assert "PluginWarning" in result.stderr  # said once when the registry is built, not only on use
    plugins = plugins_json(site, HOOKPOINTS_LOAD_PLUGINS="good,dup")
    for name in ("good", "dup"):
        (conflict,) = plugins[name]["conflicts"]
        assert conflict.startswith("conversion step 'scale' also comes from plugin")


def test_raising_hook_is_isolated_to_its_plugin(site: Path) -> None:
    plugins = plugins_json(site, HOOKPOINTS_LOAD_PLUGINS="good,raising")
    (error,) = plugins["raising"]["errors"]
    assert error["stage"] == "hook hookpoints_reporters" and "reporter table exploded" in error["error"]
    assert plugins["good"]["contributions"]["reporter"] == ["count"]


def test_allow_and_deny_lists(site: Path) -> None:
    assert list(plugins_json(site, HOOKPOINTS_LOAD_PLUGINS="")) == ["hookpoints.builtins"]
    assert list(plugins_json(site, HOOKPOINTS_LOAD_PLUGINS="good,dup", HOOKPOINTS_DISABLE_PLUGINS="dup")) == [
        "hookpoints.builtins",
        "good",
    ]


def test_unknown_name_lists_installed_matches_and_load_errors(site: Path) -> None:
    code = "import hookpoints; hookpoints.conversions.get('scael')"
    result = run(site, code, HOOKPOINTS_LOAD_PLUGINS="good,broken")
    message = result.stderr.strip().splitlines()[-1]
    assert "no conversion step named 'scael'" in message and "installed: identity, scale" in message
    assert "did you mean 'scale'" in message and "'broken' (hp-broken 0.0.1) failed at import" in message


def test_import_hookpoints_scans_no_entry_points(site: Path) -> None:
    code = (
        "import torch  # torch scans its own entry points at import; hookpoints must not\n"
        "import importlib.metadata as md\n"
        "def boom(*a, **k): raise AssertionError('entry points scanned at import')\n"
        "md.entry_points = boom\n"
        "import sys, hookpoints\n"
        "from hookpoints import HookPoint, HookedRootModule\n"
        "assert 'pluggy' not in sys.modules and 'hookpoints.plugins' not in sys.modules\n"
        "assert 'hp_good' not in sys.modules\n"
        "print('ok')\n"
    )
    result = run(site, code)
    assert result.stdout.strip() == "ok", result.stderr


# ---------------------------------------------------------------- in-process plugins
class InProcess:
    """An in-process plugin object contributing one of each kind."""

    @hookimpl
    def hookpoints_conversion_steps(self) -> Iterator[ConversionStep]:
        from hookpoints import IdentityConversion

        yield ConversionStep("same", "identity again", IdentityConversion)

    @hookimpl
    def hookpoints_alias_schemes(self) -> Iterator[AliasScheme]:
        yield AliasScheme("short", "short names", rules=(AliasRule("in", "hook_in"),))

    @hookimpl
    def hookpoints_reporters(self) -> Iterator[Reporter]:
        from hookpoints.reports.render import TextReporter

        yield Reporter("loud", "text, preferred", TextReporter, priority=20)

    @hookimpl
    def hookpoints_cache_sinks(self) -> Iterator[CacheSink]:
        from hookpoints.capturing.sinks import MemorySink

        yield CacheSink("keep", "memory again", MemorySink)


@pytest.fixture
def in_process() -> Iterator[str]:
    name = hookpoints.plugins.register(InProcess(), name="in-process-test")
    yield name
    hookpoints.plugins.unregister(name)


def test_register_contributes_to_every_registry(in_process: str) -> None:
    assert "same" in hookpoints.conversions.available()
    assert hookpoints.aliases.get("short").rules_for()[0].target == "hook_in"
    assert hookpoints.reports.default().name == "loud"  # priority is explicit data
    assert hookpoints.capturing.sinks.source("keep").plugin == in_process
    assert hookpoints.conversions.source("same").plugin == in_process
    assert hookpoints.conversions.source("identity").distribution == "hookpoints"


def test_unregister_removes_contributions(in_process: str) -> None:
    hookpoints.plugins.unregister(in_process)
    try:
        assert "same" not in hookpoints.conversions.available()
        assert "loud" not in hookpoints.reports.available()
        assert hookpoints.reports.default().name != "loud"
    finally:
        hookpoints.plugins.register(InProcess(), name=in_process)


def test_register_twice_under_one_name_is_refused(in_process: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        hookpoints.plugins.register(InProcess(), name=in_process)


def test_duplicate_in_process_names_both_sources(in_process: str) -> None:
    name = hookpoints.plugins.register(InProcess(), name="in-process-copy")
    try:
        with pytest.warns(hookpoints.plugins.PluginWarning, match="named 'same'"):
            available = hookpoints.conversions.available()
        assert "same" not in available and "identity" in available
        with pytest.raises(
            DuplicateNameError,
            match="'in-process-test'.*'in-process-copy'|'in-process-copy'.*'in-process-test'",
        ):
            hookpoints.conversions.get("same")
    finally:
        hookpoints.plugins.unregister(name)
    assert "same" in hookpoints.conversions.available()


def test_wrong_return_type_is_a_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrong:
        @hookimpl
        def hookpoints_conversion_steps(self) -> list[str]:
            return ["not a descriptor"]

    monkeypatch.delenv("HOOKPOINTS_STRICT_PLUGINS", raising=False)
    name = hookpoints.plugins.register(Wrong(), name="wrong-return")
    try:
        with pytest.warns(PluginWarning, match="wrong-return"):
            assert "identity" in hookpoints.conversions.available()
        assert any(
            e.plugin == "wrong-return" and e.stage.startswith("return")
            for e in hookpoints.plugins.load_errors()
        )
        monkeypatch.setenv("HOOKPOINTS_STRICT_PLUGINS", "1")
        HOST.refresh()
        with pytest.raises(PluginError, match="expected ConversionStep objects, got str"):
            hookpoints.conversions.available()
    finally:
        hookpoints.plugins.unregister(name)
        HOST.refresh()


def test_enable_reshape_by_name() -> None:
    hp = HookPoint(name="p")
    hp.enable_reshape("identity")
    hp.add_hook(lambda t, hook: t + 1)
    assert torch.equal(hp(torch.zeros(2)), torch.ones(2))
    with pytest.raises(UnknownNameError, match="no conversion step named 'identty'.*did you mean 'identity'"):
        hp.enable_reshape("identty")
    with pytest.raises(TypeError, match="rejected parameters \\['bogus'\\]"):
        hp.enable_reshape("identity", bogus=1)
    with pytest.raises(TypeError, match="only accepted with a step name"):
        hp.enable_reshape(None, bogus=1)


def test_report_uses_named_or_default_reporter() -> None:
    from .conftest import Toy

    toy = Toy()
    default = hookpoints.reports.default().name
    assert hookpoints.report(toy) == hookpoints.report(toy, reporter=default)
    assert hookpoints.report(toy, reporter="text").splitlines()[0].startswith("hook point")
    data = json.loads(hookpoints.report(toy, reporter="json"))
    assert data["schema"] == "hookpoints.report/1" and data["summary"]["hook_points"] == 3
    with pytest.raises(UnknownNameError, match="installed: .*json, .*text"):
        hookpoints.report(toy, reporter="no_such_reporter")


def test_descriptors_read_factory_parameters_from_the_signature() -> None:
    def factory(
        pattern: str, /, scale: float = 1.0, *rest: object, mode: str = "a", **lengths: int
    ) -> object:
        return object()

    assert ConversionStep("s", "d", factory).parameter_names() == ("scale", "mode", "**lengths")
    assert CacheSink("k", "d", factory).parameter_names() == ("scale", "mode", "**lengths")
    assert ConversionStep("s", "d", factory, parameters=("given",)).parameter_names() == ("given",)
    assert ConversionStep("s", "d", dict).parameter_names() == ()  # a builtin without a signature


def test_string_factories_are_imported_on_first_build_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazy_step_module.py").write_text(
        "import sys\nsys.modules[__name__].imported = True\n\n"
        "class Scale:\n"
        "    def __init__(self, factor: float = 2.0):\n        self.factor = factor\n"
        "    def convert(self, x):\n        return x * self.factor\n"
        "    def revert(self, x):\n        return x / self.factor\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import sys

    step = ConversionStep("lazy_scale", "d", "lazy_step_module:Scale")
    assert "lazy_step_module" not in sys.modules  # describing a step imports nothing
    assert step.parameter_names() == ("factor",)
    assert step.build(factor=3.0).factor == 3.0 and sys.modules["lazy_step_module"].imported
    with pytest.raises(ValueError, match="'module:attribute'"):
        ConversionStep("bad", "d", "no_colon_here")
    with pytest.raises(TypeError, match="callable or 'module:attribute'"):
        CacheSink("bad", "d", 42)  # type: ignore[arg-type]


def test_bad_parameters_error_lists_the_derived_parameters(in_process: str) -> None:
    with pytest.raises(
        TypeError,
        match=r"conversion step 'same' rejected parameters \['filter'\].*expected: input_filter, output",
    ):
        hookpoints.conversions.create("same", filter=abs)


@pytest.mark.parametrize(
    ("code", "distribution"),
    [
        ("hookpoints.ActivationCache({'a': torch.ones(2)}).save('c.safetensors')", "hookpoints-safetensors"),
        ("hookpoints.HookPoint().enable_reshape('rearrange')", "hookpoints-einops"),
        ("hookpoints.registries.REPORTERS.get('rich')", "hookpoints-rich"),
    ],
)
def test_first_party_name_without_its_plugin_says_what_to_install(
    site: Path, code: str, distribution: str
) -> None:
    script = (
        "import torch, hookpoints, hookpoints.registries\n"
        f"try:\n    {code}\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    result = run(site, script, HOOKPOINTS_LOAD_PLUGINS="")  # only the builtins, as core installed alone
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.startswith("PluginNotInstalledError") and f"pip install {distribution}" in result.stdout
    )
