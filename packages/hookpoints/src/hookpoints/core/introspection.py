"""``HookIntrospectionMixin``: ``list_hooks()`` for anything with a ``hook_dict``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..errors import HookNameError
from .handles import LensHandle
from .names import NamesFilter, normalize_names_filter

if TYPE_CHECKING:
    from .hook_point import HookPoint


class HookIntrospectionMixin:
    """Adds :meth:`list_hooks` to classes exposing ``hook_dict`` (attribute or property)."""

    def list_hooks(
        self,
        name_filter: NamesFilter = None,
        dir: Literal["fwd", "bwd", "both"] = "both",
        including_permanent: bool = True,
    ) -> dict[str, list[LensHandle]]:
        """Attached hooks grouped by hook-point name, in call order; empty points are omitted.

        Args:
            name_filter: A hook name, any iterable of names, or a predicate; ``None`` = all.
            dir: ``"fwd"``, ``"bwd"`` or ``"both"``.
            including_permanent: If false, permanent hooks are left out.
        """
        if dir not in ("fwd", "bwd", "both"):
            raise ValueError(f"dir must be 'fwd', 'bwd' or 'both'; got {dir!r}")
        selector = normalize_names_filter(name_filter)
        hook_dict: dict[str, HookPoint] = getattr(self, "hook_dict")  # noqa: B009
        if selector.names is not None:
            unknown = [n for n in selector.ordered if n not in hook_dict]
            if unknown:  # a misspelt name would otherwise just list nothing
                raise HookNameError(unknown[0], hook_dict)
            points = [(n, hook_dict[n]) for n in selector.ordered]
        else:
            points = [(n, hp) for n, hp in hook_dict.items() if selector(n)]
        out: dict[str, list[LensHandle]] = {}
        for name, hp in points:
            handles: list[LensHandle] = []
            if dir in ("fwd", "both"):
                handles.extend(hp.fwd_hooks)
            if dir in ("bwd", "both"):
                handles.extend(hp.bwd_hooks)
            if not including_permanent:
                handles = [h for h in handles if not h.is_permanent]
            if handles:
                out[name] = handles
        return out
