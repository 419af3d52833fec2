"""Name filters and display names for hooks.

One normalisation of ``names_filter`` is used everywhere (``run_with_cache``, ``hooks()``,
``add_hook``, ``list_hooks``): ``None`` (all points), a single name, any iterable of names
(list, tuple, set, dict keys), or a predicate. Exact names are kept as a set so that callers
can look them up directly instead of scanning every point of a large model.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

NamesFilter: TypeAlias = str | Iterable[str] | Callable[[str], bool] | None
"""What every ``names_filter`` / ``name_filter`` argument accepts."""


@dataclass(frozen=True)
class NameSelector:
    """A normalised names filter.

    ``names`` is the set of exact names when the filter was given as names (so the selection
    costs O(len(names)) rather than O(points)); ``predicate`` is set for callables; both are
    ``None`` for "every point".
    """

    names: frozenset[str] | None = None
    predicate: Callable[[str], bool] | None = None
    ordered: tuple[str, ...] = ()

    def __call__(self, name: str) -> bool:
        if self.names is not None:
            return name in self.names
        if self.predicate is not None:
            return bool(self.predicate(name))
        return True


_ALL = NameSelector()


def normalize_names_filter(names_filter: NamesFilter | NameSelector) -> NameSelector:
    """Turn any accepted ``names_filter`` into a :class:`NameSelector`.

    >>> normalize_names_filter(("a", "b"))("b")
    True
    >>> normalize_names_filter(lambda n: n.endswith("q"))("attn.hook_q")
    True
    """
    if names_filter is None:
        return _ALL
    if isinstance(names_filter, NameSelector):
        return names_filter
    if isinstance(names_filter, str):
        return NameSelector(names=frozenset((names_filter,)), ordered=(names_filter,))
    if callable(names_filter):
        _check_predicate(names_filter)
        return NameSelector(predicate=names_filter)
    given: object = names_filter  # bytes are iterable (of ints), and not names
    if isinstance(given, (bytes, bytearray)):
        raise TypeError(
            "names_filter must be a hook name (str), names or a predicate; got "
            f"{type(names_filter).__name__} "
            f"{given!r} (decode it: names_filter={bytes(given).decode(errors='replace')!r})"
        )
    if isinstance(names_filter, Iterable):
        ordered = tuple(names_filter)
        bad = [n for n in ordered if not isinstance(n, str)]
        if bad:
            raise TypeError(
                f"names_filter must hold hook names (str); got {type(bad[0]).__name__} {bad[0]!r}"
            )
        return NameSelector(names=frozenset(ordered), ordered=tuple(dict.fromkeys(ordered)))
    raise TypeError(
        "names_filter must be None, a hook name, an iterable of hook names or a callable "
        f"taking a name and returning bool; got {type(names_filter).__name__}"
    )


def _check_predicate(fn: Callable[..., Any]) -> None:
    """A predicate must be callable with one name: checked from its code, not per point.

    Plain functions and bound methods are checked (cheaply, without ``inspect``); other
    callables are trusted.
    """
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None or not isinstance(func, types.FunctionType):
        return
    bound = 1 if func is not fn else 0  # a bound method's self
    positional = code.co_argcount - bound
    required = positional - len(func.__defaults__ or ())
    takes_varargs = bool(code.co_flags & inspect.CO_VARARGS)
    kwonly_required = [
        n
        for n in code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        if n not in (func.__kwdefaults__ or {})
    ]
    if required > 1 or (positional < 1 and not takes_varargs) or kwonly_required:
        raise TypeError(
            f"names_filter: a predicate is called as predicate(name) -> bool with one hook name; "
            f"{hook_display_name(fn)}{inspect.signature(fn)} cannot be called with one argument"
        )


def hook_display_name(fn: Any) -> str:
    """A short, safe name for a user's hook, computed only when it is shown.

    Never calls ``repr()`` on the hook or its bound arguments: reprs of partials holding
    tensors or caches are slow, and some objects' reprs raise.
    """
    if isinstance(fn, functools.partial):
        return f"partial({hook_display_name(fn.func)}, ...)"
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(qualname, str):
        return qualname.replace("<locals>.", "")  # "run.<locals>.save" -> "run.save"
    return f"<{type(fn).__qualname__} object>"
