"""Name filters and display names for hooks.

One normalisation of ``names_filter`` is used everywhere (``run_with_cache``, ``hooks()``,
``add_hook``, ``list_hooks``): ``None`` (all points), a single name, any iterable of names
(list, tuple, set, dict keys), or a predicate. Exact names are kept as a set so that callers
can look them up directly instead of scanning every point of a large model.
"""

from __future__ import annotations

import functools
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
        return NameSelector(predicate=names_filter)
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
