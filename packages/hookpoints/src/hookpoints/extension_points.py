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

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Union, runtime_checkable


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


Factory = Union[Callable[..., Any], str]
"""A callable, or ``"module:attribute"`` imported on first use (keeps plugin scans light)."""


def resolve(target: Factory) -> Any:
    """The object a factory reference names: ``"pkg.mod:Class"`` is imported on first use."""
    if not isinstance(target, str):
        return target
    return _import_target(target)


@functools.cache
def _import_target(target: str) -> Any:
    module, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _check_factory(kind: str, name: str, field_name: str, value: object) -> None:
    if isinstance(value, str):
        module, sep, attribute = value.partition(":")
        if not (sep and module and attribute and all(p.isidentifier() for p in attribute.split("."))):
            raise ValueError(
                f"{kind} {name!r}: {field_name} {value!r} must be a callable or 'module:attribute'"
            )
    elif not callable(value):
        raise TypeError(f"{kind} {name!r}: {field_name} must be callable or 'module:attribute'")


class _Buildable:
    """What the descriptors with a ``factory`` share: building, and the parameters it takes."""

    factory: Factory
    parameters: tuple[str, ...]

    def build(self, *args: Any, **params: Any) -> Any:
        """``factory(**params)``, importing a ``"module:attribute"`` factory first."""
        return resolve(self.factory)(*args, **params)

    def parameter_names(self) -> tuple[str, ...]:
        """``parameters`` if given, else read from the factory's signature (importing it)."""
        return self.parameters or _factory_parameters(resolve(self.factory))


def _check_name(kind: str, name: object) -> None:
    if not isinstance(name, str) or not name or name != name.strip() or "," in name:
        raise ValueError(
            f"{kind} name must be a non-empty string without commas or surrounding spaces; got {name!r}"
        )


@dataclass(frozen=True)
class ConversionStep(_Buildable):
    """A reversible (or read-only) tensor view for :meth:`HookPoint.enable_reshape`.

    Args:
        name: Registry name, e.g. ``"split_heads"``.
        description: One line shown by ``hookpoints plugins``.
        factory: ``factory(**params)`` returns an object with ``convert`` and ``revert``; or
            ``"module:attribute"``, imported when the step is first built.
        invertible: Whether ``revert`` writes an edited view back. Read-only steps set False;
            a hook that returns a value through them gets a clear error.
        parameters: Names of the keyword parameters ``factory`` accepts (for errors and docs);
            read from its signature when not given (see :meth:`parameter_names`).
    """

    name: str
    description: str
    factory: Factory
    invertible: bool = True
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("conversion step", self.name)
        _check_factory("ConversionStep", self.name, "factory", self.factory)


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
    """What a reporter factory returns: a renderer of :class:`~hookpoints.reports.data.HookReport`.

    ``render`` must keep every line within ``width`` characters (ANSI codes excluded) and
    emit colour only when ``color`` is true.
    """

    def render(self, report: Any, *, width: int = 100, color: bool = False) -> str: ...


@dataclass(frozen=True)
class Reporter(_Buildable):
    """A rendering of what is hooked and what was captured.

    Args:
        name: Registry name, e.g. ``"text"``, ``"json"``, ``"rich"``.
        description: One line shown by ``hookpoints plugins``.
        factory: ``factory()`` returns a :class:`HookReporter`; or ``"module:attribute"``,
            imported when the reporter is first built.
        priority: The default reporter is the available one with the highest priority
            (explicit data, never load order): text 0, json -10, rich 10.
    """

    name: str
    description: str
    factory: Factory
    priority: int = 0
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("reporter", self.name)
        _check_factory("Reporter", self.name, "factory", self.factory)


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
class CacheSink(_Buildable):
    """A destination for captured activations (``run_with_cache(sink=...)``, ``capture``).

    Args:
        name: Registry name, e.g. ``"memory"``, ``"cpu"``, ``"reduce"``, ``"safetensors"``.
        description: One line shown by ``hookpoints plugins``.
        factory: ``factory(**params)`` returns an :class:`ActivationSink`; or
            ``"module:attribute"``, imported when the sink is first built.
        parameters: Names of the keyword parameters ``factory`` accepts; read from its
            signature when not given (see :meth:`parameter_names`).
    """

    name: str
    description: str
    factory: Factory
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("cache sink", self.name)
        _check_factory("CacheSink", self.name, "factory", self.factory)


@dataclass(frozen=True)
class CacheFormat:
    """A file format for whole caches (``ActivationCache.save`` / ``ActivationCache.load``).

    Args:
        name: Registry name, e.g. ``"safetensors"``.
        description: One line shown by ``hookpoints plugins``.
        save: ``save(cache, path) -> Path`` writes every tensor of the cache and its flags;
            it must never pickle. A callable or ``"module:attribute"``.
        load: ``load(path) -> ActivationCache`` reads what ``save`` wrote (likewise).
        suffixes: File name endings this format claims (``ActivationCache.load`` picks the
            format by them when none is named).
    """

    name: str
    description: str
    save: Factory
    load: Factory
    suffixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("cache format", self.name)
        _check_factory("CacheFormat", self.name, "save", self.save)
        _check_factory("CacheFormat", self.name, "load", self.load)

    def save_cache(self, cache: Any, path: Any) -> Any:
        return resolve(self.save)(cache, path)

    def load_cache(self, path: Any) -> Any:
        return resolve(self.load)(path)
