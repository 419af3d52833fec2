"""The plugin host: discovers, loads and isolates plugins.

Entry points (group ``hookpoints``) are scanned lazily, on the first registry use, never by
``import hookpoints``. Each plugin is loaded and each of its hooks is called in its own
``try``: an import error, a raising hook or a wrong return value becomes a recorded
:class:`PluginLoadError` and one warning, and that plugin's contributions are skipped while
everything else keeps working. ``HOOKPOINTS_STRICT_PLUGINS=1`` turns these into exceptions
(tests and CI set it).

Environment:
    HOOKPOINTS_STRICT_PLUGINS=1   raise on any plugin failure
    HOOKPOINTS_LOAD_PLUGINS=a,b   load only these entry points (set but empty: none)
    HOOKPOINTS_DISABLE_PLUGINS=a,b  never load these entry points
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .._version import __version__ as core_version
from ..errors import PluginError, PluginWarning
from ..registries import BUILTIN, REGISTRIES, Contribution, Provenance

ENV_STRICT = "HOOKPOINTS_STRICT_PLUGINS"
ENV_LOAD = "HOOKPOINTS_LOAD_PLUGINS"
ENV_DISABLE = "HOOKPOINTS_DISABLE_PLUGINS"
ENTRY_POINT_GROUP = "hookpoints"

D = TypeVar("D")


@dataclass(frozen=True)
class PluginLoadError:
    """A recorded plugin failure: who, what stage, why, and what to try."""

    plugin: str
    distribution: str | None
    version: str | None
    stage: str  # "import", "register", "hook <name>", "return <name>"
    error: str
    hint: str
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = f"{self.distribution} {self.version}" if self.distribution else "registered in-process"
        return f"plugin {self.plugin!r} ({where}) failed at {self.stage}: {self.error}. {self.hint}"


@dataclass(frozen=True)
class PluginInfo:
    """What ``hookpoints plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    contributions: dict[str, tuple[str, ...]]
    errors: tuple[PluginLoadError, ...]
    #: Names this plugin contributes that another plugin contributes too (both disabled).
    conflicts: tuple[str, ...] = ()


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _hint(stage: str, exc: BaseException) -> str:
    if stage == "import":
        if isinstance(exc, ModuleNotFoundError):
            return f"Install the missing module {exc.name!r} or uninstall the plugin"
        return "Check that the plugin is compatible with this hookpoints version, or disable it"
    if stage.startswith("return"):
        return "The hook must return an iterable of hookpoints.plugins descriptors of that kind"
    if stage == "register":
        return "Hook implementations must match the hookspecs in hookpoints.plugins.hookspecs"
    return f"Disable it with {ENV_DISABLE}=<name> until it is fixed"


class PluginHost:
    """Owns the pluggy manager; registries read contributions through :meth:`contributions`."""

    def __init__(self) -> None:
        self._pm: Any = None
        self._sources: dict[str, Provenance] = {}
        self._errors: list[PluginLoadError] = []
        self._manual: list[tuple[str, object]] = []
        self._cache: dict[str, list[Contribution]] = {}
        self.generation = 0

    # ------------------------------------------------------------------ loading
    @property
    def strict(self) -> bool:
        return os.environ.get(ENV_STRICT, "").strip().lower() in ("1", "true", "yes", "on")

    def _fail(self, error: PluginLoadError) -> None:
        if self.strict:
            raise PluginError(str(error)) from error.exception
        self._errors.append(error)
        warnings.warn(str(error), PluginWarning, stacklevel=4)

    def manager(self) -> Any:
        """The loaded ``pluggy.PluginManager`` (loads plugins on first call)."""
        if self._pm is None:
            try:
                self._load()
            except BaseException:
                self._pm = None  # strict mode: nothing half-loaded stays behind
                raise
        return self._pm

    def _load(self) -> None:
        import pluggy

        from . import builtins, hookspecs

        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        self._pm = pm
        self._sources = {}
        self._errors = []
        self._cache = {}
        pm.register(builtins, name=BUILTIN)
        self._sources[BUILTIN] = Provenance(BUILTIN, "hookpoints", core_version)
        allow, deny = _env_list(ENV_LOAD), _env_list(ENV_DISABLE) or []
        for ep in _entry_points():
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                continue
            dist = getattr(ep, "dist", None)
            source = Provenance(ep.name, getattr(dist, "name", None), getattr(dist, "version", None))
            if ep.name in self._sources:
                other = self._sources[ep.name]
                self._fail(
                    PluginLoadError(
                        ep.name,
                        source.distribution,
                        source.version,
                        "register",
                        f"entry point name {ep.name!r} is provided by both {other.distribution} "
                        f"{other.version} and {source.distribution} {source.version}",
                        "Uninstall one of the two distributions",
                    )
                )
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(self._error(source, "import", exc))
                continue
            self._register(plugin, source)
        for name, plugin in self._manual:
            self._register(plugin, Provenance(name))
        self.generation += 1

    def _register(self, plugin: object, source: Provenance) -> None:
        try:
            self._pm.register(plugin, name=source.plugin)
        except Exception as exc:
            self._fail(self._error(source, "register", exc))
            return
        self._sources[source.plugin] = source

    @staticmethod
    def _error(source: Provenance, stage: str, exc: BaseException) -> PluginLoadError:
        return PluginLoadError(
            source.plugin,
            source.distribution,
            source.version,
            stage,
            f"{type(exc).__name__}: {exc}",
            _hint(stage, exc),
            exc,
        )

    def refresh(self) -> None:
        """Forget everything loaded; the next registry use rescans entry points."""
        self._pm = None
        self._cache = {}
        self.generation += 1

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register an in-process plugin (a module or object with ``@hookimpl`` functions).

        For notebooks and tests. Returns the name it was registered under.
        """
        name = name or getattr(plugin, "__name__", None) or f"in-process-{id(plugin):x}"
        if any(n == name for n, _ in self._manual) or name in self._sources:
            raise ValueError(f"a plugin named {name!r} is already registered; pass another name")
        self._manual.append((name, plugin))
        if self._pm is not None:
            self._register(plugin, Provenance(name))
            self._cache = {}
            self.generation += 1
        return name

    def unregister(self, name: str) -> None:
        """Remove an in-process plugin registered with :meth:`register`."""
        before = len(self._manual)
        self._manual = [(n, p) for n, p in self._manual if n != name]
        if len(self._manual) == before:
            raise ValueError(f"no in-process plugin named {name!r}")
        if self._pm is not None and self._pm.has_plugin(name):
            self._pm.unregister(name=name)
            self._sources.pop(name, None)
        self._cache = {}
        self.generation += 1

    # ------------------------------------------------------------------ contributions
    def contributions(self, hook_name: str, descriptor_type: type[D]) -> list[Contribution]:
        """Every valid descriptor for ``hook_name``, each plugin called in isolation."""
        pm = self.manager()
        if hook_name in self._cache:
            return self._cache[hook_name]
        found: list[Contribution] = []
        impls = sorted(
            getattr(pm.hook, hook_name).get_hookimpls(),
            key=lambda i: (i.plugin_name != BUILTIN, i.plugin_name),
        )
        for impl in impls:
            source = self._sources.get(impl.plugin_name, Provenance(impl.plugin_name))
            try:
                items = list(impl.function())
            except Exception as exc:
                self._fail(self._error(source, f"hook {hook_name}", exc))
                continue
            bad = [item for item in items if not isinstance(item, descriptor_type)]
            if bad:
                self._fail(
                    self._error(
                        source,
                        f"return {hook_name}",
                        TypeError(
                            f"expected {descriptor_type.__name__} objects, got {type(bad[0]).__name__}"
                        ),
                    )
                )
                continue
            found.extend(Contribution(item, source) for item in items)
        self._cache[hook_name] = found
        return found

    @property
    def load_errors(self) -> list[PluginLoadError]:
        self.manager()
        return list(self._errors)

    def plugin_infos(self) -> list[PluginInfo]:
        """One record per plugin (built-ins first), with contributions per kind and errors."""
        pm = self.manager()
        per_plugin: dict[str, dict[str, list[str]]] = {}
        for registry in REGISTRIES:
            for contribution in self.contributions(registry.hook_name, registry.descriptor_type):
                kinds = per_plugin.setdefault(contribution.source.plugin, {})
                kinds.setdefault(registry.kind, []).append(contribution.descriptor.name)
        conflicts: dict[str, list[str]] = {}
        for registry in REGISTRIES:
            for name, sources in registry.conflicts().items():
                for source in sources:
                    others = ", ".join(str(o) for o in sources if o is not source)
                    conflicts.setdefault(source.plugin, []).append(
                        f"{registry.kind} {name!r} also comes from {others}: disabled"
                    )
        names = [BUILTIN, *sorted(n for n in self._sources if n != BUILTIN and pm.has_plugin(n))]
        names += sorted({e.plugin for e in self._errors} - set(names))
        infos = []
        for name in names:
            source = self._sources.get(name) or next(
                (Provenance(e.plugin, e.distribution, e.version) for e in self._errors if e.plugin == name),
                Provenance(name),
            )
            infos.append(
                PluginInfo(
                    name,
                    source.distribution,
                    source.version,
                    {k: tuple(v) for k, v in per_plugin.get(name, {}).items()},
                    tuple(e for e in self._errors if e.plugin == name),
                    tuple(conflicts.get(name, ())),
                )
            )
        return infos


def _entry_points() -> Iterable[Any]:
    from importlib.metadata import entry_points

    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


HOST = PluginHost()

register: Callable[..., str] = HOST.register
unregister = HOST.unregister
refresh = HOST.refresh


def load_errors() -> list[PluginLoadError]:
    """Failures recorded while loading plugins (empty in strict mode: those raise)."""
    return HOST.load_errors


def plugin_infos() -> list[PluginInfo]:
    return HOST.plugin_infos()
