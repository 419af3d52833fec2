"""Registries: contributions of one kind, selected by name.

One implementation serves conversions, alias schemes and reporters (xarray-backends style):
``available()`` maps names to descriptors, ``get(name)`` selects one. Two contributions with
the same name are an error naming both distributions; an unknown name is an error listing
the installed names, the closest matches and the load errors of broken plugins, so a plugin
that failed to load never surfaces as a bare "unknown name".
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from .descriptors import AliasScheme, CacheSink, Contribution, ConversionStep, Provenance, Reporter
from .errors import close_matches
from .plugins import HOST, PluginError

D = TypeVar("D")


class DuplicateNameError(PluginError):
    """Two plugins contributed the same name for the same kind."""


class UnknownNameError(KeyError, ValueError):
    """No contribution of that kind has that name."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class Registry(Generic[D]):
    """The contributions of one kind (``conversion step``, ``alias scheme``, ``reporter``)."""

    def __init__(self, kind: str, hook_name: str, descriptor_type: type[D]) -> None:
        self.kind = kind
        self.hook_name = hook_name
        self.descriptor_type = descriptor_type
        self._generation = -1
        self._table: dict[str, Contribution] = {}

    def _contributions(self) -> dict[str, Contribution]:
        contributions = HOST.contributions(self.hook_name, self.descriptor_type)
        if self._generation != HOST.generation:
            table: dict[str, Contribution] = {}
            for contribution in contributions:
                name = contribution.descriptor.name
                if name in table:
                    raise DuplicateNameError(
                        f"two {self.kind}s are named {name!r}: one from {table[name].source}, one from "
                        f"{contribution.source}; uninstall or disable one of them"
                    )
                table[name] = contribution
            self._table = table
            self._generation = HOST.generation
        return self._table

    def available(self) -> dict[str, D]:
        """Name -> descriptor for every installed contribution of this kind (sorted by name)."""
        return {name: c.descriptor for name, c in sorted(self._contributions().items())}

    def source(self, name: str) -> Provenance:
        """Which plugin (distribution, version) contributed ``name``."""
        self.get(name)
        return self._contributions()[name].source

    def get(self, name: str) -> D:
        table = self._contributions()
        contribution = table.get(name)
        if contribution is not None:
            return contribution.descriptor  # type: ignore[no-any-return]
        installed = ", ".join(sorted(table)) or "none"
        message = f"no {self.kind} named {name!r}; installed: {installed}"
        matches = close_matches(name, table)
        if matches:
            message += f"; did you mean {', '.join(repr(m) for m in matches)}?"
        errors = HOST.load_errors
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
            conversion = step.factory(**params)
        except TypeError as exc:
            expected = ", ".join(step.parameters) if step.parameters else "see its documentation"
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

    def create(self, name: str | None = None) -> Any:
        reporter = self.default() if name is None else self.get(name)
        return reporter.factory()


class SinkRegistry(Registry[CacheSink]):
    def create(self, name: str, **params: Any) -> Any:
        """Build the sink ``name`` with ``params``; bad parameters name what is expected."""
        sink = self.get(name)
        try:
            return sink.factory(**params)
        except TypeError as exc:
            expected = ", ".join(sink.parameters) if sink.parameters else "no parameters"
            raise TypeError(
                f"cache sink {name!r} rejected parameters {sorted(params)}: {exc} (expected: {expected})"
            ) from exc


CONVERSIONS = ConversionRegistry("conversion step", "hookpoints_conversion_steps", ConversionStep)
ALIASES: Registry[AliasScheme] = Registry("alias scheme", "hookpoints_alias_schemes", AliasScheme)
REPORTERS = ReporterRegistry("reporter", "hookpoints_reporters", Reporter)
SINKS = SinkRegistry("cache sink", "hookpoints_cache_sinks", CacheSink)
REGISTRIES: tuple[Registry[Any], ...] = (CONVERSIONS, ALIASES, REPORTERS, SINKS)
