"""Which hook point is running: for error messages raised far below it, on the error path only.

A step that fails inside a hook point's dispatch (a caching hook's ``pos_slice``, a
conversion's ``convert``) is not told which point it runs at, and passing the name down
would cost every call. When such a step is about to raise, it asks :func:`running_point`
instead: the nearest hook point on the call stack (a hook's ``hook`` argument, else a
dispatching ``HookPoint``'s ``self``). Never called on a path that does not raise.
"""

from __future__ import annotations

import sys
from types import FrameType


def running_point(max_depth: int = 16) -> str | None:
    """The name of the hook point whose dispatch the caller runs in, or ``None`` outside any."""
    from .hook_point import AliasedHookPoint, HookPoint

    frame: FrameType | None = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            return None
        for local in ("hook", "self"):
            candidate = frame.f_locals.get(local)
            if isinstance(candidate, (HookPoint, AliasedHookPoint)) and candidate.name is not None:
                return candidate.name
        frame = frame.f_back
    return None


def at_point(prefix: str = " at hook point ") -> str:
    """``" at hook point 'name'"`` for the running point, or ``""`` outside any."""
    name = running_point(max_depth=17)
    return f"{prefix}{name!r}" if name is not None else ""
