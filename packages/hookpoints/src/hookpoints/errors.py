"""Every exception (and warning) hookpoints raises, in one place.

Every error names the thing at fault and what was expected, so that a mistake made far from
where it surfaces (a typo in a hook name, a hook that returns the wrong shape) can be fixed
from the message alone. Each subclasses the builtin a caller would catch for that mistake
(``KeyError`` for an unknown name, ``TypeError``/``ValueError`` for a bad argument).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """Return up to ``n`` candidates that look like ``name`` (best first)."""
    pool = list(candidates)
    found = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if len(found) < n:
        # Names are dotted paths: a match on the last component is a strong hint too.
        tail = name.rsplit(".", 1)[-1]
        found += [c for c in pool if c not in found and c.rsplit(".", 1)[-1] == tail][: n - len(found)]
    return found


class HookNameError(KeyError, ValueError):
    """An unknown hook-point name.

    Subclasses ``KeyError`` (what TransformerLens raised) and ``ValueError`` so existing
    ``except`` clauses keep working.
    """

    def __init__(
        self, name: str, candidates: Iterable[str], what: str = "hook point", no_match: str | None = None
    ) -> None:
        self.name = name
        self.suggestions = close_matches(name, candidates)
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else f"; {no_match}"
            if no_match is not None
            else "; no hook point has a similar name (see model.hook_dict for all names)"
        )
        self.message = f"no {what} named {name!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.message


class HookShapeError(RuntimeError):
    """A forward or backward hook returned a value that cannot replace the activation."""


class NonInvertibleConversionError(RuntimeError):
    """A hook returned a value through a conversion that cannot be reverted."""


class SliceInputError(TypeError, ValueError):
    """A ``pos_slice`` that is not a position selection (TransformerLens raised ValueError)."""


class SliceRangeError(IndexError):
    """A ``pos_slice`` index outside the activation's positions (known once the tensor is seen)."""


class PluginError(RuntimeError):
    """A plugin failed to load or contributed something invalid (strict mode)."""


class ContributionError(PluginError):
    """A plugin's contribution (a reporter, ...) raised when used; the cause is chained.

    ``kind``, ``name`` and ``source`` (plugin, distribution, version) say whose it was.
    """

    def __init__(self, message: str, kind: str, name: str, source: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.source = source


class PluginWarning(UserWarning):
    """A plugin failed and was skipped (non-strict mode)."""


class DuplicateNameError(PluginError):
    """Two plugins contributed the same name for the same kind."""


class UnknownNameError(KeyError, ValueError):
    """No contribution of that kind has that name."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class PluginNotInstalledError(UnknownNameError, ImportError):
    """The name belongs to a first-party plugin that is not installed; the message says which."""

    def __init__(self, message: str, distribution: str) -> None:
        super().__init__(message)
        self.distribution = distribution
