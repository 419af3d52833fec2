"""The extension points as data: what a plugin contributes, and what the objects it builds do.

A plugin yields small, immutable records (like conda's ``CondaSolver``) through the
``hookpoints_*`` hookspecs instead of registering objects into global state: the plugin host
can then validate them, attribute them to a distribution, detect duplicate names and choose
between them by explicit data (``priority``), never by load order. Five extension points:

==================  =====================  ==========================================
descriptor          built object           used by
==================  =====================  ==========================================
ConversionStep      a conversion           ``HookPoint.enable_reshape("name")``
AliasScheme         alias rules            ``attach(model, aliases="name")``
Reporter            :class:`HookReporter`  ``report(..., reporter="name")``
CacheSink           :class:`ActivationSink`  ``capture(..., sink="name")``
CacheFormat         (save, load)           ``ActivationCache.save(path, format="name")``
==================  =====================  ==========================================

Plugin authors import these from :mod:`hookpoints.plugins`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


def _factory_parameters(factory: Callable[..., Any]) -> tuple[str, ...]:
    """The keyword parameters ``factory(**params)`` accepts, ``**name`` for a catch-all."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to read (some builtins)
        return ()
    names = []
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            names.append(f"**{parameter.name}")
        elif parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            names.append(parameter.name)
    return tuple(names)


def _check_name(kind: str, name: object) -> None:
    if not isinstance(name, str) or not name or name != name.strip() or "," in name:
        raise ValueError(
            f"{kind} name must be a non-empty string without commas or surrounding spaces; got {name!r}"
        )


@dataclass(frozen=True)
class ConversionStep:
    """A reversible (or read-only) tensor view for :meth:`HookPoint.enable_reshape`.

    Args:
        name: Registry name, e.g. ``"split_heads"``.
        description: One line shown by ``hookpoints plugins``.
        factory: ``factory(**params)`` returns an object with ``convert`` and ``revert``.
        invertible: Whether ``revert`` writes an edited view back. Read-only steps set False;
            a hook that returns a value through them gets a clear error.
        parameters: Names of the keyword parameters ``factory`` accepts (for errors and docs);
            read from its signature when not given.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    invertible: bool = True
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("conversion step", self.name)
        if not callable(self.factory):
            raise TypeError(f"ConversionStep {self.name!r}: factory must be callable")
        if not self.parameters:
            object.__setattr__(self, "parameters", _factory_parameters(self.factory))


@dataclass(frozen=True)
class AliasRule:
    """One alias: ``alias`` names the canonical point ``target``, seen through ``conversions``.

    Both patterns may hold ``{layer}`` (or any ``{field}``); a rule applies to every value of
    the fields for which the target exists on the model.
    ``conversions`` is a chain of ``(step name, params)`` from the conversion registry.
    """

    alias: str
    target: str
    conversions: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    pos_dim: int | None = None  # position dimension of the view (for pos_slice), if not -2


@dataclass(frozen=True)
class AliasScheme:
    """A vocabulary of alternative hook names (for example TransformerLens's).

    Args:
        name: Registry name, e.g. ``"transformerlens"``.
        description: One line shown by ``hookpoints plugins``.
        rules: The alias rules, or a callable ``rules(model)`` returning them for a given
            model (one table per architecture).
    """

    name: str
    description: str
    rules: tuple[AliasRule, ...] | Callable[[Any], tuple[AliasRule, ...]] = ()

    def __post_init__(self) -> None:
        _check_name("alias scheme", self.name)

    def rules_for(self, model: Any = None) -> tuple[AliasRule, ...]:
        rules = self.rules(model) if callable(self.rules) else self.rules
        return tuple(rules)


@runtime_checkable
class HookReporter(Protocol):
    """What a reporter factory returns: a renderer of :class:`~hookpoints.report_data.HookReport`.

    ``render`` must keep every line within ``width`` characters (ANSI codes excluded) and
    emit colour only when ``color`` is true.
    """

    def render(self, report: Any, *, width: int = 100, color: bool = False) -> str: ...


@dataclass(frozen=True)
class Reporter:
    """A rendering of what is hooked and what was captured.

    Args:
        name: Registry name, e.g. ``"text"``, ``"json"``, ``"rich"``.
        description: One line shown by ``hookpoints plugins``.
        factory: ``factory()`` returns a :class:`HookReporter`.
        priority: The default reporter is the available one with the highest priority
            (explicit data, never load order): text 0, json -10, rich 10.
    """

    name: str
    description: str
    factory: Callable[[], HookReporter]
    priority: int = 0

    def __post_init__(self) -> None:
        _check_name("reporter", self.name)
        if not callable(self.factory):
            raise TypeError(f"Reporter {self.name!r}: factory must be callable")


@runtime_checkable
class ActivationSink(Protocol):
    """Where captured activations go (what a cache-sink factory returns).

    The capture loop calls ``write`` for every watched point each time it fires (inside the
    forward pass, so it must be quick or hand work off), ``end_batch`` after each batch, and
    ``finalize`` once at the end; ``finalize`` returns the result (a cache, statistics, a
    path...). ``completed_batches`` lets a resumable sink skip batches it already holds.
    """

    def write(self, name: str, tensor: Any, *, batch: int) -> None: ...

    def end_batch(self, batch: int) -> None: ...

    def finalize(self) -> Any: ...


@dataclass(frozen=True)
class CacheSink:
    """A destination for captured activations (``run_with_cache(sink=...)``, ``capture``).

    Args:
        name: Registry name, e.g. ``"memory"``, ``"cpu"``, ``"reduce"``, ``"safetensors"``.
        description: One line shown by ``hookpoints plugins``.
        factory: ``factory(**params)`` returns an :class:`ActivationSink`.
        parameters: Names of the keyword parameters ``factory`` accepts; read from its
            signature when not given.
    """

    name: str
    description: str
    factory: Callable[..., ActivationSink]
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("cache sink", self.name)
        if not callable(self.factory):
            raise TypeError(f"CacheSink {self.name!r}: factory must be callable")
        if not self.parameters:
            object.__setattr__(self, "parameters", _factory_parameters(self.factory))


@dataclass(frozen=True)
class CacheFormat:
    """A file format for whole caches (``ActivationCache.save`` / ``ActivationCache.load``).

    Args:
        name: Registry name, e.g. ``"safetensors"``.
        description: One line shown by ``hookpoints plugins``.
        save: ``save(cache, path) -> Path`` writes every tensor of the cache and its flags;
            it must never pickle.
        load: ``load(path) -> ActivationCache`` reads what ``save`` wrote.
        suffixes: File name endings this format claims (``ActivationCache.load`` picks the
            format by them when none is named).
    """

    name: str
    description: str
    save: Callable[[Any, Any], Any]
    load: Callable[[Any], Any]
    suffixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("cache format", self.name)
        if not (callable(self.save) and callable(self.load)):
            raise TypeError(f"CacheFormat {self.name!r}: save and load must be callable")
