"""Who sees which hooks: hook contexts (one per thread or asyncio task) and hook scopes.

A model in memory is shared between threads and tasks (a background sweep while a notebook
patches, a server answering requests with one model), so a hook added by a scope must fire
only for the forward passes of the code that opened it:

- A :class:`HookContext` stands for one thread or asyncio task. It is created the first time
  that thread or task opens a scope (or adds a hook inside one) and lives in a
  ``contextvars`` variable, so it follows the code that runs there. A task started inside
  another task's scope inherits a link to that context (``parent``): it sees the hooks of the
  scopes it was started in, while hooks its own scopes add stay its own.
- A :class:`HookScope` is one ``hooks()`` / ``run_with_hooks`` / ``run_with_cache`` /
  ``record`` / ``capture`` block. Its hooks are visible in its context (and in contexts
  chained to it) and removed when it exits.
- Permanent hooks and hooks added outside any scope are global: every context sees them, as
  every hook was in TransformerLens, so single-threaded code behaves exactly as before.

Hook points keep one table of call tuples per context that has hooks on them; a forward pass
looks its context up only when some context has scoped hooks on that point, so a point at
rest, or one with only global hooks, pays nothing for this.

Under ``torch.compile`` the lookup reads :data:`THREAD_VIEW` instead of the ``ContextVar``:
dynamo cannot trace ``ContextVar.get`` inside a model (a graph break at every hooked point)
but traces, and guards on, a ``threading.local`` attribute. It holds the context that last
opened a scope or added a hook in that thread, so compiled forwards are private per thread;
asyncio tasks of one thread running a compiled model share that thread's view (the eager path
keeps them apart). docs/concepts.md states this limit.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Iterator
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .handles import LensHandle

#: The hook context of the running thread or task (None: it never opened a scope).
CURRENT_CONTEXT: ContextVar[HookContext | None] = ContextVar("hookpoints_context", default=None)

_NO_LEVELS: Mapping[int, int] = MappingProxyType({})
#: ``context_level`` of each root module (by id) in the running thread or task.
_LEVELS: ContextVar[Mapping[int, int]] = ContextVar("hookpoints_context_levels", default=_NO_LEVELS)

#: ``THREAD_VIEW.context``: what compiled code reads for the running thread's context (see the
#: module docstring); unset in a thread that never opened a scope.
THREAD_VIEW = threading.local()

#: Held while hooks are added or removed, so that concurrent registrations on one point
#: never lose each other's updates. Forward passes never take it: they read call tuples that
#: registrations replace whole.
REGISTRATION_LOCK = threading.RLock()


class HookContext:
    """The hooks of one thread or asyncio task (see the module docstring)."""

    __slots__ = ("__weakref__", "_task", "parent", "scopes", "thread")

    def __init__(self, parent: HookContext | None, thread: int, task: Any) -> None:
        self.parent = parent
        self.thread = thread
        self._task = weakref.ref(task) if task is not None else None
        self.scopes: list[HookScope] = []  # open scopes of this context, innermost last

    def owned_by(self, thread: int, task: Any) -> bool:
        own_task = self._task() if self._task is not None else None
        return self.thread == thread and own_task is task

    def chain(self) -> Iterator[HookContext]:
        """This context, then the contexts it was started in."""
        ctx: HookContext | None = self
        while ctx is not None:
            yield ctx
            ctx = ctx.parent

    def __repr__(self) -> str:
        return f"HookContext(thread={self.thread}, {len(self.scopes)} open scopes)"


def _running_task() -> Any:
    asyncio = sys.modules.get("asyncio")  # no running task can exist unless asyncio was imported
    if asyncio is None:
        return None
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop in this thread
        return None


def own_context() -> HookContext:
    """The running thread's or task's own context, created on first use.

    A context inherited from the code that started this task is linked as ``parent``, never
    shared: hooks added here stay invisible to that code.
    """
    ctx = CURRENT_CONTEXT.get()
    thread, task = threading.get_ident(), _running_task()
    if ctx is None or not ctx.owned_by(thread, task):
        ctx = HookContext(ctx, thread, task)
        CURRENT_CONTEXT.set(ctx)
    THREAD_VIEW.context = ctx
    return ctx


def visible_contexts() -> frozenset[HookContext]:
    """The contexts whose hooks the running code sees (its own and those it was started in)."""
    ctx = CURRENT_CONTEXT.get()
    return frozenset(ctx.chain()) if ctx is not None else frozenset()


def open_scopes() -> list[HookScope]:
    """Every scope open around the running code, innermost first."""
    ctx = CURRENT_CONTEXT.get()
    if ctx is None:
        return []
    return [scope for c in ctx.chain() for scope in reversed(c.scopes)]


def is_visible(handle: LensHandle, contexts: frozenset[HookContext]) -> bool:
    """Whether code that sees ``contexts`` sees ``handle`` (global hooks are seen by all)."""
    return handle.context is None or handle.context in contexts


def context_level(root: object) -> int:
    return _LEVELS.get().get(id(root), 0)


def set_context_level(root: object, level: int) -> Token[Mapping[int, int]]:
    levels = dict(_LEVELS.get())
    levels[id(root)] = level
    return _LEVELS.set(MappingProxyType(levels))


def reset_context_level(token: Token[Mapping[int, int]]) -> None:
    _LEVELS.reset(token)


class HookScope:
    """The hooks added by one ``hooks()`` block (or adopted into it with ``level=``)."""

    __slots__ = ("context", "handles", "level", "root")

    def __init__(self, root: object, level: int, context: HookContext) -> None:
        self.root = root
        self.level = level
        self.context = context
        self.handles: list[LensHandle] = []

    def remove(self) -> None:
        with REGISTRATION_LOCK:  # once for the scope, not once per hook
            for handle in self.handles:
                point = handle.point
                if point is not None and not handle.removed:
                    point._withdraw(handle)
                else:
                    handle.remove()
        self.handles.clear()

    def __repr__(self) -> str:
        return f"HookScope(level={self.level}, {len(self.handles)} hooks)"
