"""Recording a run: which points fired, how often, what they held, time spent in hooks.

``with hookpoints.record(model) as run: model(x)`` attaches two hooks per watched point for
the duration of the block: one first in line that starts a timer, one last that stops it
and summarises the activation (statistics, never the tensor itself). Nothing is attached
outside the block, so recording costs nothing when it is off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import Tensor

from ..core.handles import LensHandle
from ..core.names import NamesFilter, normalize_names_filter
from .data import ActivationStats

if TYPE_CHECKING:
    from ..core.root import HookedRootModule


@dataclass
class PointRecord:
    fired: int = 0
    hook_seconds: float = 0.0
    stats: ActivationStats | None = None  # of the last call


@dataclass
class RunRecord:
    """What :func:`record` saw: per point, fired count, time in hooks, last activation's statistics."""

    watched: tuple[str, ...] = ()
    points: dict[str, PointRecord] = field(default_factory=dict)
    hook_functions: tuple[Any, ...] = field(default=(), repr=False)  # the recorder's own hooks

    @property
    def never_fired(self) -> list[str]:
        return [n for n in self.watched if n not in self.points]

    def owns(self, handle: LensHandle) -> bool:
        """Whether ``handle`` is one of the recorder's own hooks (left out of reports)."""
        return any(handle.user_hook is fn for fn in self.hook_functions)


@contextmanager
def record(
    model: HookedRootModule, names_filter: NamesFilter = None, *, stats: bool = True
) -> Iterator[RunRecord]:
    """Record every forward pass inside the block (several batches accumulate).

    Hooks added to a point after the block starts run after the recorder's closing hook and
    are not timed. ``stats=False`` records only fired counts and hook time.
    """
    from ..core.root import require_hooked_root

    require_hooked_root(model, "record()")
    selector = normalize_names_filter(names_filter)
    hook_dict = model.hook_dict
    if selector.names is not None:
        missing = [n for n in selector.ordered if n not in hook_dict]
        if missing:
            from ..errors import HookNameError

            raise HookNameError(missing[0], hook_dict)
        names = list(selector.ordered)
    else:
        names = [n for n in hook_dict if selector(n)]
    run = RunRecord(watched=tuple(names))
    started: dict[str, float] = {}

    def start(tensor: Any, *, hook: Any) -> None:
        started[hook.name] = time.perf_counter()

    def finish(tensor: Any, *, hook: Any) -> None:
        elapsed = time.perf_counter() - started.pop(hook.name, time.perf_counter())
        entry = run.points.get(hook.name)
        if entry is None:
            entry = run.points[hook.name] = PointRecord()
        entry.fired += 1
        entry.hook_seconds += elapsed
        if stats and isinstance(tensor, Tensor):
            entry.stats = ActivationStats.of(tensor)

    run.hook_functions = (start, finish)
    # Two scopes of the running thread or task: the timer starts first in line, stops last.
    with model.hooks(fwd_hooks=[(names, start)], prepend=True), model.hooks(fwd_hooks=[(names, finish)]):
        yield run
