"""``LensHandle``: the record of one hook attached to one hook point.

TransformerLens returned nothing from ``add_hook``, so one hook could not be removed on its
own. Here every registration returns a handle whose ``remove()`` removes exactly that hook (a
group handle for a registration that matched several points), and which works as a context
manager. TransformerLens's constructor and the attributes its code reads (``hook``, a torch
``RemovableHandle``; ``is_permanent``, ``context_level``, ``user_hook``) are kept.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

from torch.utils.hooks import RemovableHandle

from .names import hook_display_name

if TYPE_CHECKING:
    from types import TracebackType

    from .hook_point import HookPoint
    from .scopes import HookContext, HookScope

Direction = Literal["fwd", "bwd"]


class HookRemovableHandle(RemovableHandle):
    """``handle.hook`` of a hookpoints hook: torch's handle type (``.id``, ``.remove()``, ``with``).

    hookpoints dispatches its hooks itself rather than through ``register_forward_hook``, so
    there is no torch handle to hand out; this one is made on first access to
    :attr:`LensHandle.hook` (never on the registration path) and removes the hookpoints hook.
    """

    def __init__(self, lens_handle: LensHandle) -> None:
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.hooks_dict_ref = _DEAD_REF
        self.extra_dict_ref: tuple[Any, ...] = ()
        self.lens_handle = lens_handle

    def remove(self) -> None:
        self.lens_handle.remove()


_NO_HOOKS: OrderedDict[int, Any] = OrderedDict()
_DEAD_REF = weakref.ref(_NO_HOOKS)  # torch's attribute, for code that reads it: an empty dict


def check_level(level: object) -> None:
    """``level=`` must be an int (a ``hooks()`` block's ``context_level``) or None."""
    if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
        raise TypeError(f"level must be an int (a hooks() block's context_level) or None; got {level!r}")


class _RemovedOnExit:
    """``with handle:`` removes what the handle added when the block ends."""

    __slots__ = ()

    def remove(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()


class LensHandle(_RemovedOnExit):
    """One user hook on one hook point, in one direction.

    ``handle.remove()`` (or leaving ``with handle:``) detaches the hook; removing twice is a
    no-op. The constructor and the attributes are TransformerLens's ``LensHandle`` dataclass:
    ``LensHandle(hook, is_permanent=False, context_level=None, user_hook=None)`` wraps a torch
    ``RemovableHandle``, and for hooks hookpoints adds, ``handle.hook`` is a torch
    ``RemovableHandle`` too (with an ``id``; its ``remove()`` removes this hook).
    """

    __slots__ = (
        "_torch_handle",
        "alias_names",
        "calls",
        "context",
        "context_level",
        "dir",
        "is_permanent",
        "owner",
        "point",
        "removed",
        "user_hook",
    )

    def __init__(
        self,
        hook: RemovableHandle | None = None,
        is_permanent: bool = False,
        context_level: int | None = None,
        user_hook: Callable[..., Any] | None = None,
        *,
        point: HookPoint | None = None,
        dir: Direction = "fwd",
        alias_names: tuple[str, ...] | None = None,
        owner: HookScope | None = None,
        context: HookContext | None = None,
    ) -> None:
        self._torch_handle = hook
        self.is_permanent = is_permanent
        self.context_level = context_level
        self.user_hook = user_hook
        self.point = point
        self.dir: Direction = dir
        self.alias_names = alias_names
        self.owner = owner  # the hooks() block this hook leaves with, if any
        self.context = context  # the thread or task that sees it; None: global
        self.removed = False
        self.calls: tuple[Any, ...] = ()  # (fn, hook arg, handle) triples, set by the point

    @property
    def hook(self) -> RemovableHandle:
        """The torch ``RemovableHandle`` of this hook (``handle.hook.remove()``, ``handle.hook.id``)."""
        if self._torch_handle is None:
            self._torch_handle = HookRemovableHandle(self)
        return self._torch_handle

    @hook.setter
    def hook(self, value: RemovableHandle) -> None:
        self._torch_handle = value

    @property
    def name(self) -> str | None:
        """Name of the hook point this hook is attached to."""
        return self.point.name if self.point is not None else None

    @property
    def hook_name(self) -> str:
        """A short display name of the user's hook (computed now, never at add time)."""
        return hook_display_name(self.user_hook)

    @property
    def handles(self) -> tuple[LensHandle, ...]:
        return (self,)

    def remove(self) -> None:
        """Detach this hook from its point. Idempotent."""
        if self.removed:
            return
        if self.point is not None:
            self.point._detach(self)
        else:  # a TransformerLens-style record around a torch handle
            if self._torch_handle is not None:
                self._torch_handle.remove()
            self.removed = True

    def __repr__(self) -> str:
        bits = [f"{self.name!r}", self.dir, self.hook_name]
        if self.is_permanent:
            bits.append("permanent")
        if self.context_level is not None:
            bits.append(f"level={self.context_level}")
        if self.alias_names:
            bits.append(f"as {list(self.alias_names)!r}")
        if self.removed:
            bits.append("removed")
        return f"LensHandle({', '.join(bits)})"


class LensHandleGroup(_RemovedOnExit, Sequence[LensHandle]):
    """The handles of one registration that matched several hook points.

    Behaves like a sequence of :class:`LensHandle` and like a single handle: ``remove()``
    removes exactly the hooks of this registration, ``with group:`` removes them on exit.
    """

    __slots__ = ("_handles",)

    def __init__(self, handles: Iterable[LensHandle] = ()) -> None:
        self._handles = tuple(handles)

    @property
    def handles(self) -> tuple[LensHandle, ...]:
        return self._handles

    @property
    def hook(self) -> LensHandleGroup:
        return self

    @property
    def removed(self) -> bool:
        return all(h.removed for h in self._handles)

    @property
    def names(self) -> list[str | None]:
        return [h.name for h in self._handles]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()

    def __getitem__(self, index: Any) -> Any:
        return self._handles[index]

    def __len__(self) -> int:
        return len(self._handles)

    def __iter__(self) -> Iterator[LensHandle]:
        return iter(self._handles)

    def __repr__(self) -> str:
        return f"LensHandleGroup({len(self._handles)} hooks on {self.names!r})"
