"""Registries: contributions of one kind, selected by name.

One implementation serves every extension point (xarray-backends style): ``available()``
maps names to descriptors, ``get(name)`` selects one, ``create(name, **params)`` builds it.
Two contributions with the same name disable that name only (a warning, and an error naming
both distributions when it is asked for); an unknown
name is an error listing the installed names, the closest matches and the load errors of
broken plugins, so a plugin that failed to load never surfaces as a bare "unknown name".

Registries sit below every layer that looks things up by name (``enable_reshape("name")``,
``run_with_cache(sink="name")``, ``attach(aliases="name")``, ``report(reporter="name")``);
the plugin host that finds the contributions sits above them all. The host is handed to the
registries as a :class:`ContributionSource` through ``hookpoints._host_link`` (set by
``hookpoints/__init__.py``; the host is imported when a registry is first asked), so nothing
here imports it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from . import _host_link
from .errors import (
    ContributionError,
    DuplicateNameError,
    PluginError,
    PluginNotInstalledError,
    PluginWarning,
    UnknownNameError,
    close_matches,
)
from .extension_points import (
    ActivationSink,
    AliasScheme,
    CacheFormat,
    CacheSink,
    ConversionStep,
    Reporter,
)

D = TypeVar("D")
BUILTIN = "hookpoints.builtins"

#: (kind, name) -> the first-party distribution that contributes it, so that asking for one
#: that is not installed says what to install instead of only "unknown name".
FIRST_PARTY: Mapping[tuple[str, str], str] = {
    ("cache format", "safetensors"): "hookpoints-safetensors",
    ("cache sink", "safetensors"): "hookpoints-safetensors",
    ("reporter", "rich"): "hookpoints-rich",
    ("alias scheme", "transformerlens"): "hookpoints-aliases-transformerlens",
    **{("conversion step", n): "hookpoints-einops" for n in ("rearrange", "repeat", "reduce")},
    **{
        ("conversion step", n): "hookpoints-tensor-ops"
        for n in ("reshape", "split_heads", "merge_heads", "permute", "transpose", "select_chunk")
    },
}


@dataclass(frozen=True)
class Provenance:
    """Where a contribution came from."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution is None:
            return f"plugin {self.plugin!r}"
        return f"plugin {self.plugin!r} from {self.distribution} {self.version or ''}".rstrip()


@dataclass(frozen=True)
class Contribution:
    """A descriptor together with the plugin that contributed it."""

    descriptor: Any
    source: Provenance = field(default_factory=lambda: Provenance(BUILTIN))


class ContributionSource(Protocol):
    """What registries need of the plugin host."""

    @property
    def generation(self) -> int:
        """Changes whenever the set of plugins changes."""

    @property
    def load_errors(self) -> list[Any]:
        """Plugins that failed to load (for "unknown name" messages)."""

    def contributions(self, hook_name: str, descriptor_type: type[Any]) -> list[Contribution]:
        """Every valid descriptor the plugins return from the hookspec ``hook_name``."""


def _source() -> ContributionSource:
    source: ContributionSource | None = _host_link.contribution_source
    if source is None:
        raise PluginError("hookpoints' plugin host is not connected (import hookpoints first)")
    return source


class Registry(Generic[D]):
    """The contributions of one kind (``conversion step``, ``alias scheme``, ``reporter``, ...)."""

    def __init__(self, kind: str, hook_name: str, descriptor_type: type[D]) -> None:
        self.kind = kind
        self.hook_name = hook_name
        self.descriptor_type = descriptor_type
        self._generation = -1
        self._table: dict[str, Contribution] = {}
        self._conflicts: dict[str, list[Contribution]] = {}

    def _contributions(self) -> dict[str, Contribution]:
        source = _source()
        contributions = source.contributions(self.hook_name, self.descriptor_type)
        if self._generation != source.generation:
            by_name: dict[str, list[Contribution]] = {}
            for contribution in contributions:
                by_name.setdefault(contribution.descriptor.name, []).append(contribution)
            # A name two plugins claim is disabled, and only that name: built-ins and every
            # other contribution keep working; asking for it names both (xarray's rule).
            self._table = {name: found[0] for name, found in by_name.items() if len(found) == 1}
            self._conflicts = {name: found for name, found in by_name.items() if len(found) > 1}
            self._generation = source.generation
            for name in self._conflicts:
                warnings.warn(self._conflict_message(name), PluginWarning, stacklevel=3)
        return self._table

    def _conflict_message(self, name: str) -> str:
        sources = " and ".join(str(c.source) for c in self._conflicts[name])
        return (
            f"{len(self._conflicts[name])} {self.kind}s are named {name!r}: from {sources}; {name!r} is "
            "disabled until one of them is uninstalled or disabled (HOOKPOINTS_DISABLE_PLUGINS)"
        )

    def conflicts(self) -> dict[str, tuple[Provenance, ...]]:
        """Names two or more plugins contribute (disabled), with where each came from."""
        self._contributions()
        return {name: tuple(c.source for c in found) for name, found in sorted(self._conflicts.items())}

    def available(self) -> dict[str, D]:
        """Name -> descriptor for every installed contribution of this kind (sorted by name)."""
        return {name: c.descriptor for name, c in sorted(self._contributions().items())}

    def source(self, name: str) -> Provenance:
        """Which plugin (distribution, version) contributed ``name``."""
        self.get(name)
        return self._contributions()[name].source

    def describe(self, name: str) -> str:
        """``"reporter 'x' (plugin 'p' from dist 1.0)"``: what error messages call a contribution."""
        contribution = self._contributions().get(name)
        where = f" ({contribution.source})" if contribution is not None else ""
        return f"{self.kind} {name!r}{where}"

    def get(self, name: str) -> D:
        table = self._contributions()
        contribution = table.get(name)
        if contribution is not None:
            return contribution.descriptor  # type: ignore[no-any-return]
        if name in self._conflicts:
            raise DuplicateNameError(self._conflict_message(name))
        installed = ", ".join(sorted(table)) or "none"
        message = f"no {self.kind} named {name!r}; installed: {installed}"
        distribution = FIRST_PARTY.get((self.kind, name))
        if distribution is not None:
            raise PluginNotInstalledError(
                f"{message}; {name!r} comes with the plugin {distribution}: pip install {distribution}",
                distribution,
            )
        matches = close_matches(name, table)
        if matches:
            message += f"; did you mean {', '.join(repr(m) for m in matches)}?"
        errors = _source().load_errors
        if errors:
            message += "; plugins that failed to load: " + "; ".join(str(e) for e in errors)
        raise UnknownNameError(message)

    def __contains__(self, name: object) -> bool:
        return name in self._contributions()

    def __repr__(self) -> str:
        return f"<{self.kind} registry: {', '.join(sorted(self._contributions()))}>"


class ConversionRegistry(Registry[ConversionStep]):
    def create(self, name: str, **params: Any) -> Any:
        """Build the conversion ``name`` with ``params``; bad parameters name what is expected."""
        step = self.get(name)
        try:
            conversion = step.build(**params)
        except TypeError as exc:
            expected = ", ".join(step.parameter_names()) or "see its documentation"
            raise TypeError(
                f"conversion step {name!r} rejected parameters {sorted(params)}: {exc} (expected: {expected})"
            ) from exc
        if not (
            callable(getattr(conversion, "convert", None)) and callable(getattr(conversion, "revert", None))
        ):
            raise PluginError(
                f"conversion step {name!r} from {self.source(name)} built a {type(conversion).__name__} "
                "without convert() and revert()"
            )
        return conversion


class ReporterRegistry(Registry[Reporter]):
    def default(self) -> Reporter:
        """The available reporter with the highest ``priority`` (ties broken by name)."""
        reporters = self.available()
        if not reporters:
            raise UnknownNameError("no reporter is installed (the core's text reporter is missing?)")
        return max(reporters.values(), key=lambda r: (r.priority, r.name))

    def by_priority(self) -> list[Reporter]:
        """Available reporters, the default first (highest ``priority``, ties broken by name)."""
        return sorted(self.available().values(), key=lambda r: (r.priority, r.name), reverse=True)

    def create(self, name: str | None = None) -> Any:
        reporter = self.default() if name is None else self.get(name)
        return reporter.build()

    def render(self, name: str, report: Any, *, width: int, color: bool) -> str:
        """Build the reporter ``name`` and render ``report``; its failure names it and its plugin.

        Raises :class:`~hookpoints.errors.ContributionError` (the reporter's exception chained)
        when building or rendering raises, or when it renders something other than a str.
        """
        reporter = self.get(name)
        try:
            text = reporter.build().render(report, width=width, color=color)
        except Exception as exc:
            raise ContributionError(
                f"{self.describe(name)} raised {type(exc).__name__}: {exc}",
                self.kind,
                name,
                self.source(name),
            ) from exc
        if not isinstance(text, str):
            raise ContributionError(
                f"{self.describe(name)} rendered a {type(text).__name__}; a reporter must return a str",
                self.kind,
                name,
                self.source(name),
            )
        return text


class SinkRegistry(Registry[CacheSink]):
    def create(self, name: str, **params: Any) -> Any:
        """Build the sink ``name`` with ``params``; bad parameters name what is expected."""
        sink = self.get(name)
        try:
            return sink.build(**params)
        except TypeError as exc:
            expected = ", ".join(sink.parameter_names()) or "no parameters"
            raise TypeError(
                f"cache sink {name!r} rejected parameters {sorted(params)}: {exc} (expected: {expected})"
            ) from exc

    def resolve(self, sink: str | ActivationSink, params: Mapping[str, Any]) -> ActivationSink:
        """A sink object from a name (built with ``params``) or a sink given as an object."""
        if isinstance(sink, str):
            return NamedSink(self.create(sink, **params), self.describe(sink))
        if params:
            raise TypeError("sink parameters are only accepted with a sink name")
        missing = [m for m in ("write", "end_batch", "finalize") if not callable(getattr(sink, m, None))]
        if missing:
            raise TypeError(f"{type(sink).__name__} is not a cache sink: it lacks {', '.join(missing)}()")
        return sink


class NamedSink:
    """A sink built by name: an exception it raises gets a note naming it and its plugin.

    The exception keeps its type (callers catch a sink's own errors, such as a disk sink's
    ``CaptureError``); the note says which sink, plugin, distribution and version raised it
    and in which call. Every other attribute is the sink's own.
    """

    __slots__ = ("label", "sink")

    def __init__(self, sink: Any, label: str) -> None:
        self.sink = sink
        self.label = label

    def _note(self, exc: BaseException, call: str) -> None:
        exc.add_note(f"(raised by {self.label} in {call})")

    def write(self, name: str, tensor: Any, *, batch: int) -> None:
        try:
            self.sink.write(name, tensor, batch=batch)
        except Exception as exc:
            self._note(exc, f"write({name!r}, batch={batch})")
            raise

    def end_batch(self, batch: int) -> None:
        try:
            self.sink.end_batch(batch)
        except Exception as exc:
            self._note(exc, f"end_batch({batch})")
            raise

    def finalize(self) -> Any:
        try:
            return self.sink.finalize()
        except Exception as exc:
            self._note(exc, "finalize()")
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sink, name)

    def __repr__(self) -> str:
        return f"NamedSink({self.sink!r}, {self.label})"


class FormatRegistry(Registry[CacheFormat]):
    def for_path(self, path: Any, name: str | None) -> CacheFormat:
        """The format named ``name``, or else the one claiming the path's suffix, or else safetensors."""
        if name is not None:
            return self.get(name)
        suffix = str(path).rsplit(".", 1)[-1] if "." in str(path) else ""
        for fmt in self.available().values():
            if suffix and f".{suffix}" in fmt.suffixes:
                return fmt
        return self.get("safetensors")


CONVERSIONS = ConversionRegistry("conversion step", "hookpoints_conversion_steps", ConversionStep)
ALIASES: Registry[AliasScheme] = Registry("alias scheme", "hookpoints_alias_schemes", AliasScheme)
REPORTERS = ReporterRegistry("reporter", "hookpoints_reporters", Reporter)
SINKS = SinkRegistry("cache sink", "hookpoints_cache_sinks", CacheSink)
CACHE_FORMATS = FormatRegistry("cache format", "hookpoints_cache_formats", CacheFormat)
REGISTRIES: tuple[Registry[Any], ...] = (CONVERSIONS, ALIASES, REPORTERS, SINKS, CACHE_FORMATS)
