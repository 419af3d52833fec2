"""``LensHandle``: the record of one hook attached to one hook point.

TransformerLens returned nothing from ``add_hook``, so one hook could not be removed on its
own. Here every registration returns a handle whose ``remove()`` removes exactly that hook (a
group handle for a registration that matched several points), and which works as a context
manager. The attributes TransformerLens code reads (``hook``, ``is_permanent``,
``context_level``, ``user_hook``) are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .names import hook_display_name

if TYPE_CHECKING:
    from types import TracebackType

    from .hook_point import HookPoint

Direction = Literal["fwd", "bwd"]


class LensHandle:
    """One user hook on one hook point, in one direction.

    ``handle.remove()`` (or leaving ``with handle:``) detaches the hook; removing twice is a
    no-op. ``handle.hook`` is the handle itself, so TransformerLens code that calls
    ``handle.hook.remove()`` keeps working.
    """

    __slots__ = (
        "alias_names",
        "calls",
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
        point: HookPoint,
        user_hook: Callable[..., Any],
        dir: Direction = "fwd",
        is_permanent: bool = False,
        context_level: int | None = None,
        alias_names: tuple[str, ...] | None = None,
        owner: object | None = None,
    ) -> None:
        self.point = point
        self.user_hook = user_hook
        self.dir: Direction = dir
        self.alias_names = alias_names
        self.is_permanent = is_permanent
        self.context_level = context_level
        self.owner = owner
        self.removed = False
        self.calls: tuple[Any, ...] = ()  # (fn, hook arg, handle) triples, set by the point

    @property
    def hook(self) -> LensHandle:
        """TransformerLens compatibility: ``handle.hook.remove()``."""
        return self

    @property
    def name(self) -> str | None:
        """Name of the hook point this hook is attached to."""
        return self.point.name

    @property
    def hook_name(self) -> str:
        """A short display name of the user's hook (computed now, never at add time)."""
        return hook_display_name(self.user_hook)

    @property
    def handles(self) -> tuple[LensHandle, ...]:
        return (self,)

    def remove(self) -> None:
        """Detach this hook from its point. Idempotent."""
        if not self.removed:
            self.point._detach(self)

    def __enter__(self) -> LensHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

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


class LensHandleGroup(Sequence[LensHandle]):
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

    def __enter__(self) -> LensHandleGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __getitem__(self, index: Any) -> Any:
        return self._handles[index]

    def __len__(self) -> int:
        return len(self._handles)

    def __iter__(self) -> Iterator[LensHandle]:
        return iter(self._handles)

    def __repr__(self) -> str:
        return f"LensHandleGroup({len(self._handles)} hooks on {self.names!r})"
