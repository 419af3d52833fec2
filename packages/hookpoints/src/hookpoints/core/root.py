"""``HookedRootModule``: the model-level API (``run_with_hooks``, ``run_with_cache``, ``hooks()``).

Scopes are owned, not numbered. TransformerLens tagged hooks with an integer context level
and removed *every* hook of that level when a ``hooks()`` block ended, so a later unrelated
block silently removed hooks an earlier one had kept with ``reset_hooks_end=False``, and
every exit walked all hook points. Here each block is a :class:`~hookpoints.scopes.HookScope`
that removes exactly the hooks it added (cost proportional to those hooks); integer
``level=`` arguments still work for code that uses them. A block's hooks belong to the
thread or asyncio task that opened it (:mod:`hookpoints.scopes`), and so does
``context_level``.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Union

import torch
from torch import Tensor, nn

from ..errors import HookNameError
from .cache import ActivationCache
from .handles import Direction, LensHandle, LensHandleGroup, check_level
from .hook_point import HookPoint
from .introspection import HookIntrospectionMixin
from .names import NameSelector, NamesFilter, normalize_names_filter
from .scopes import (
    REGISTRATION_LOCK,
    HookContext,
    HookScope,
    context_level,
    open_scopes,
    own_context,
    reset_context_level,
    set_context_level,
)
from .slicing import Slice, SliceInput, position_dim

DeviceType = Union[str, torch.device, None]
HookTarget = Union[str, Iterable[str], Callable[[str], bool]]
HookPair = tuple[HookTarget, Callable[..., Any]]


class HookedRootModule(HookIntrospectionMixin, nn.Module):
    """Base class for models built with :class:`HookPoint` modules.

    Call :meth:`setup` at the end of ``__init__``: it names every submodule by its path and
    builds ``mod_dict`` and ``hook_dict``.
    """

    name: str | None
    mod_dict: dict[str, nn.Module]
    hook_dict: dict[str, HookPoint]

    def __init__(self, *args: Any) -> None:
        super().__init__()
        self.is_caching = False

    @property
    def context_level(self) -> int:
        """How many ``hooks()`` blocks of this model are open around the running code.

        Per thread and asyncio task: blocks another thread opened do not count.
        """
        return context_level(self)

    @context_level.setter
    def context_level(self, level: int) -> None:
        set_context_level(self, level)

    def __getattr__(self, name: str) -> Any:
        if name in ("hook_dict", "mod_dict"):
            raise AttributeError(
                f"{type(self).__name__}.{name} does not exist yet: call self.setup() at the end "
                "of __init__, after all submodules are created"
            )
        return super().__getattr__(name)

    def setup(self) -> None:
        """Name submodules by path and index hook points (call again after adding modules)."""
        self.mod_dict = {}
        self.hook_dict = {}
        for name, module in self.named_modules():
            if name == "":
                continue
            module.name = name
            self.mod_dict[name] = module
            if isinstance(module, HookPoint):
                self.hook_dict[name] = module

    def hook_points(self) -> Iterable[HookPoint]:
        return self.hook_dict.values()

    # ------------------------------------------------------------------ name resolution
    def _point(self, name: str) -> HookPoint:
        point = self.hook_dict.get(name)
        if point is not None:
            return point
        if name in self.mod_dict:
            raise TypeError(
                f"{name!r} is a {type(self.mod_dict[name]).__name__} module, not a HookPoint; "
                "hooks attach to hook points (see model.hook_dict)"
            )
        raise HookNameError(name, self.hook_dict)

    def _select(self, target: HookTarget | NameSelector | None) -> list[tuple[str, HookPoint]]:
        """Resolve a name, names or predicate to (name, point) pairs; unknown names raise."""
        if isinstance(target, str):
            return [(target, self._point(target))]
        selector = normalize_names_filter(target)
        if selector.names is not None:
            return [(n, self._point(n)) for n in selector.ordered]
        if selector.predicate is None:
            return list(self.hook_dict.items())
        return [(n, hp) for n, hp in self.hook_dict.items() if selector.predicate(n)]

    # ------------------------------------------------------------------ adding and removing
    def check_hooks_to_add(
        self,
        hook_point: HookPoint,
        hook_point_name: str,
        hook: Callable[..., Any],
        dir: Direction = "fwd",
        is_permanent: bool = False,
        prepend: bool = False,
    ) -> None:
        """Override to veto hooks (raise); called before each hook is added."""

    def check_and_add_hook(
        self,
        hook_point: HookPoint,
        hook_point_name: str,
        hook: Callable[..., Any],
        dir: Direction = "fwd",
        is_permanent: bool = False,
        level: int | None = None,
        prepend: bool = False,
    ) -> LensHandle:
        self.check_hooks_to_add(
            hook_point, hook_point_name, hook, dir=dir, is_permanent=is_permanent, prepend=prepend
        )
        return hook_point.add_hook(hook, dir=dir, is_permanent=is_permanent, level=level, prepend=prepend)

    def _add(
        self,
        points: Sequence[tuple[str, HookPoint]],
        hook: Callable[..., Any],
        dir: Direction,
        is_permanent: bool,
        level: int | None,
        prepend: bool,
        owner: HookScope | None,
        check: bool = False,
        context: HookContext | None = None,
    ) -> list[LensHandle]:
        """Validate everything first, then attach; on a veto, detach what was attached.

        ``check`` runs :meth:`check_hooks_to_add` on each point first. As in TransformerLens,
        only :meth:`add_hook` asks for it: ``hooks()``, ``run_with_hooks``, ``run_with_cache``
        and ``add_caching_hooks`` attach without it (TransformerLens's own guards, such as
        ``HookedTransformer`` refusing ``hook_result`` unless enabled, never fire there).
        """
        if dir not in ("fwd", "bwd"):
            raise ValueError(f"dir must be 'fwd' or 'bwd'; got {dir!r}")
        check_level(level)
        if not callable(hook):
            raise TypeError(f"hook must be callable as fn(tensor, *, hook); got {type(hook).__name__}")
        added: list[LensHandle] = []
        check_fn: Callable[..., None] | None = self.check_hooks_to_add
        if not check or type(self).check_hooks_to_add is HookedRootModule.check_hooks_to_add:
            check_fn = None  # not asked for, or not overridden: skip a no-op call per point
        try:
            with REGISTRATION_LOCK:  # once for all points, not once per point
                for name, point in points:
                    if check_fn is not None:
                        check_fn(point, name, hook, dir=dir, is_permanent=is_permanent, prepend=prepend)
                    handle = LensHandle(
                        None, is_permanent, level, hook, point=point, dir=dir, owner=owner, context=context
                    )
                    point._insert(handle, prepend)
                    added.append(handle)
        except BaseException:
            for handle in added:
                handle.remove()
            raise
        return added

    def add_hook(
        self,
        name: HookTarget,
        hook: Callable[..., Any],
        dir: Direction = "fwd",
        is_permanent: bool = False,
        level: int | None = None,
        prepend: bool = False,
    ) -> LensHandle | LensHandleGroup:
        """Attach ``hook`` to the named point(s) and return a handle that removes exactly it.

        ``name`` is a hook name (returns a :class:`LensHandle`), or several names or a
        predicate (returns a :class:`LensHandleGroup`). With ``level=k`` inside an active
        ``hooks()`` block of level k the hook belongs to that block and leaves with it.
        """
        owner, context = self._owner_for(is_permanent, level)
        points = self._select(name)
        if not points:
            warnings.warn(f"add_hook: {name!r} matched no hook point; nothing was added", stacklevel=2)
        if type(self).check_and_add_hook is not HookedRootModule.check_and_add_hook:
            added = self._add_through_override(points, hook, dir, is_permanent, level, prepend)
        else:
            added = self._add(
                points, hook, dir, is_permanent, level, prepend, owner, check=True, context=context
            )
        if owner is not None:
            owner.handles.extend(added)
        if isinstance(name, str):
            return added[0]
        return LensHandleGroup(added)

    def _owner_for(
        self, is_permanent: bool, level: int | None
    ) -> tuple[HookScope | None, HookContext | None]:
        """The block a hook added now leaves with, and the thread or task that sees it.

        Permanent hooks, and hooks added outside any block, are global (seen everywhere, as in
        TransformerLens). Inside a block, ``level=k`` hands the hook to this model's open
        block of that level; other hooks belong to the running thread or task until removed.
        """
        if is_permanent:
            return None, None
        scopes = open_scopes()
        if not scopes:
            return None, None
        if level is not None:
            owner = next((s for s in scopes if s.root is self and s.level == level), None)
            if owner is not None:
                return owner, owner.context
        return None, own_context()

    def _add_through_override(
        self,
        points: Sequence[tuple[str, HookPoint]],
        hook: Callable[..., Any],
        dir: Direction,
        is_permanent: bool,
        level: int | None,
        prepend: bool,
    ) -> list[LensHandle]:
        """``add_hook`` for subclasses that override ``check_and_add_hook`` (TransformerLens's path)."""
        added: list[LensHandle] = []
        try:
            for name, point in points:
                handle = self.check_and_add_hook(
                    point, name, hook, dir=dir, is_permanent=is_permanent, level=level, prepend=prepend
                )
                if isinstance(handle, LensHandle):
                    added.append(handle)
        except BaseException:
            for handle in added:
                handle.remove()
            raise
        return added

    # TransformerLens's private helpers, which its code and tests call: each attaches through
    # ``HookPoint.add_hook`` at the current context level, without ``check_hooks_to_add``.
    def _enable_hook_with_name(self, name: str, hook: Callable[..., Any], dir: Direction) -> Any:
        point: Any = self.mod_dict[name]
        if not hasattr(point, "add_hook"):
            raise TypeError(f"Expected a module with add_hook, got {type(point)}")
        return point.add_hook(hook, dir=dir, level=self.context_level)

    def _enable_hooks_for_points(
        self,
        hook_points: Iterable[tuple[str, HookPoint]],
        enabled: Callable[[str], bool],
        hook: Callable[..., Any],
        dir: Direction,
    ) -> list[Any]:
        return [
            point.add_hook(hook, dir=dir, level=self.context_level)
            for name, point in hook_points
            if enabled(name)
        ]

    def _enable_hook(
        self, name: str | Callable[[str], bool], hook: Callable[..., Any], dir: Direction
    ) -> Any:
        if isinstance(name, str):
            return self._enable_hook_with_name(name=name, hook=hook, dir=dir)
        return self._enable_hooks_for_points(
            hook_points=self.hook_dict.items(), enabled=name, hook=hook, dir=dir
        )

    def add_perma_hook(
        self, name: HookTarget, hook: Callable[..., Any], dir: Direction = "fwd"
    ) -> LensHandle | LensHandleGroup:
        return self.add_hook(name, hook, dir=dir, is_permanent=True)

    def remove_all_hook_fns(
        self,
        direction: Literal["fwd", "bwd", "both"] = "both",
        including_permanent: bool = False,
        level: int | None = None,
    ) -> None:
        if direction not in ("fwd", "bwd", "both"):
            raise ValueError(f"direction must be 'fwd', 'bwd' or 'both'; got {direction!r}")
        for hp in self.hook_points():
            hp.remove_hooks(direction, including_permanent=including_permanent, level=level)

    def clear_contexts(self) -> None:
        for hp in self.hook_points():
            hp.clear_context()

    def reset_hooks(
        self,
        clear_contexts: bool = True,
        direction: Literal["fwd", "bwd", "both"] = "both",
        including_permanent: bool = False,
        level: int | None = None,
    ) -> None:
        """Remove hooks (non-permanent unless asked; only those of ``level`` if given)."""
        if direction not in ("fwd", "bwd", "both"):
            raise ValueError(f"direction must be 'fwd', 'bwd' or 'both'; got {direction!r}")
        if clear_contexts:
            self.clear_contexts()
        self.remove_all_hook_fns(direction, including_permanent, level=level)
        self.is_caching = False

    # ------------------------------------------------------------------ scopes
    @contextmanager
    def hooks(
        self,
        fwd_hooks: Iterable[HookPair] = (),
        bwd_hooks: Iterable[HookPair] = (),
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
        *,
        prepend: bool = False,
    ) -> Iterator[HookedRootModule]:
        """Attach hooks for the duration of a ``with`` block.

        Each pair is ``(target, hook)`` with target a hook name, several names or a predicate.
        On exit the block removes exactly the hooks it added (unless ``reset_hooks_end`` is
        false: then they stay until their handles, ``reset_hooks()`` or a level removal
        remove them). If any target is unknown nothing is attached. The hooks belong to the
        running thread or asyncio task: forwards elsewhere do not see them. ``prepend``
        puts them before the points' other hooks.
        """
        resolved = [(self._select(t), fn, "fwd") for t, fn in _hook_pairs(fwd_hooks, "fwd_hooks")] + [
            (self._select(t), fn, "bwd") for t, fn in _hook_pairs(bwd_hooks, "bwd_hooks")
        ]
        with self._scope(resolved, reset_hooks_end, clear_contexts, prepend):  # type: ignore[arg-type]
            yield self

    @contextmanager
    def _scope(
        self,
        resolved: list[tuple[list[tuple[str, HookPoint]], Callable[..., Any], Direction]],
        reset_hooks_end: bool,
        clear_contexts: bool,
        prepend: bool = False,
    ) -> Iterator[HookScope]:
        """Attach already-resolved hooks as one owned scope of the running thread or task (all or nothing)."""
        context = own_context()
        level = self.context_level + 1
        scope = HookScope(self, level, context)
        level_token = set_context_level(self, level)
        context.scopes.append(scope)
        try:
            for points, fn, dir in resolved:
                scope.handles.extend(
                    self._add(points, fn, dir, False, level, prepend, scope, context=context)
                )
        except BaseException:
            scope.remove()
            context.scopes.remove(scope)
            reset_context_level(level_token)
            raise
        try:
            yield scope
        finally:
            if reset_hooks_end:
                scope.remove()
                if clear_contexts:
                    self.clear_contexts()
                self.is_caching = False
            else:  # kept hooks stay with this thread or task, no longer with the block
                for handle in scope.handles:
                    handle.owner = None
            context.scopes.remove(scope)
            reset_context_level(level_token)

    def run_with_hooks(
        self,
        *model_args: Any,
        fwd_hooks: Iterable[HookPair] = (),
        bwd_hooks: Iterable[HookPair] = (),
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
        **model_kwargs: Any,
    ) -> Any:
        """Run a forward pass with temporary hooks.

        Backward hooks are bound at forward time, so calling ``.backward()`` on the result
        fires them even though they were removed when this call returned.
        """
        with self.hooks(fwd_hooks, bwd_hooks, reset_hooks_end, clear_contexts):
            return self(*model_args, **model_kwargs)

    # ------------------------------------------------------------------ caching
    def get_caching_hooks(
        self,
        names_filter: NamesFilter = None,
        incl_bwd: bool = False,
        device: DeviceType = None,
        remove_batch_dim: bool = False,
        cache: dict[str, Tensor] | None = None,
        pos_slice: Slice | SliceInput = None,
    ) -> tuple[dict[str, Tensor], list[HookPair], list[HookPair]]:
        """Build caching hooks without attaching them: ``(cache, fwd_hooks, bwd_hooks)``."""
        _check_device(device)
        if cache is None:
            cache = {}
        points = self._select(names_filter)
        save_fwd = _make_save_hook(cache, "", device, remove_batch_dim, Slice.unwrap(pos_slice))
        fwd: list[HookPair] = [(name, save_fwd) for name, _ in points]
        bwd: list[HookPair] = []
        if incl_bwd:
            save_bwd = _make_save_hook(cache, "_grad", device, remove_batch_dim, Slice.unwrap(pos_slice))
            bwd = [(name, save_bwd) for name, _ in points]
        self.is_caching = True
        return cache, fwd, bwd

    def add_caching_hooks(
        self,
        names_filter: NamesFilter = None,
        incl_bwd: bool = False,
        device: DeviceType = None,
        remove_batch_dim: bool = False,
        cache: dict[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """Attach caching hooks (until ``reset_hooks()``) and return the dict they fill."""
        cache, fwd, bwd = self.get_caching_hooks(names_filter, incl_bwd, device, remove_batch_dim, cache)
        for pairs, dir in ((fwd, "fwd"), (bwd, "bwd")):
            for target, fn in pairs:
                self._add(self._select(target), fn, dir, False, None, False, None)  # type: ignore[arg-type]
        return cache

    def run_with_cache(
        self,
        *model_args: Any,
        names_filter: NamesFilter = None,
        device: DeviceType = None,
        remove_batch_dim: bool = False,
        incl_bwd: bool = False,
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
        pos_slice: Slice | SliceInput = None,
        sink: Any = None,
        out: ActivationCache | None = None,
        **model_kwargs: Any,
    ) -> tuple[Any, Any]:
        """Run the model and return ``(output, ActivationCache)``.

        ``device`` moves cached tensors (never the model). With ``incl_bwd`` the output must be
        a scalar: ``backward()`` is called on it and gradients are cached as ``<name>_grad``.
        ``sink`` (a sink name or object, see :mod:`hookpoints.capturing.sinks`) sends activations there
        instead; the second value returned is then what the sink's ``finalize`` returns.

        ``out``, a cache an earlier call returned, makes this call reuse its tensors: each
        activation is copied into the tensor ``out`` holds under its name when shape, dtype
        and device match (a new tensor is allocated when they do not), names this call does not
        cache are dropped, and ``out`` itself is returned. Its tensors are overwritten: keep a
        ``clone()`` of anything you need from the previous call. The model's own activations
        are never kept, so they are freed (and their memory reused) as the forward goes on.
        """
        _check_device(device)
        slicer = Slice.unwrap(pos_slice)  # a bad pos_slice is refused before any sink is built
        if out is not None and sink is not None:
            raise TypeError("run_with_cache takes out= or sink=, not both")
        if out is not None and not isinstance(out, ActivationCache):
            raise TypeError(
                "out must be an ActivationCache returned by an earlier run_with_cache; "
                f"got {type(out).__name__}"
            )
        if sink is not None:
            from ..registries import SINKS

            target = SINKS.resolve(sink, {})
            cache_dict: Any = _SinkWriter(target)
        elif out is not None:
            cache_dict = _BufferWriter(out, device)
            device = None  # the writer copies across devices itself
        else:
            cache_dict = ActivationCache(None, self, has_batch_dim=not remove_batch_dim)
        points = self._select(names_filter)
        resolved: list[tuple[list[tuple[str, HookPoint]], Callable[..., Any], Direction]] = [
            (points, _make_save_hook(cache_dict, "", device, remove_batch_dim, slicer), "fwd")
        ]
        if incl_bwd:
            resolved.append(
                (points, _make_save_hook(cache_dict, "_grad", device, remove_batch_dim, slicer), "bwd")
            )
        self.is_caching = True
        with self._scope(resolved, reset_hooks_end, clear_contexts):
            output = self(*model_args, **model_kwargs)
            if incl_bwd:
                if not isinstance(output, Tensor) or output.numel() != 1:
                    raise ValueError(
                        "run_with_cache(incl_bwd=True) calls backward() on the model output, which "
                        f"must be a scalar tensor; got {_describe(output)}"
                    )
                output.backward()  # type: ignore[no-untyped-call]
        if sink is not None:
            target.end_batch(0)
            result = target.finalize()
            if isinstance(result, ActivationCache):
                result.has_batch_dim = not remove_batch_dim
            return output, result
        if out is not None:
            return output, cache_dict.finish(self, has_batch_dim=not remove_batch_dim)
        return output, cache_dict

    def cache_all(
        self,
        cache: dict[str, Tensor] | None,
        incl_bwd: bool = False,
        device: DeviceType = None,
        remove_batch_dim: bool = False,
    ) -> dict[str, Tensor]:
        warnings.warn(
            "cache_all is deprecated; use add_caching_hooks or run_with_cache",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.add_caching_hooks(None, incl_bwd, device, remove_batch_dim, cache)

    def cache_some(
        self,
        cache: dict[str, Tensor] | None,
        names: NamesFilter,
        incl_bwd: bool = False,
        device: DeviceType = None,
        remove_batch_dim: bool = False,
    ) -> dict[str, Tensor]:
        warnings.warn(
            "cache_some is deprecated; use add_caching_hooks or run_with_cache",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.add_caching_hooks(names, incl_bwd, device, remove_batch_dim, cache)


class _SinkWriter:
    """Lets the caching hooks, which assign ``cache[name] = tensor``, write to a sink."""

    __slots__ = ("sink",)

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def __setitem__(self, name: str, tensor: Tensor) -> None:
        self.sink.write(name, tensor, batch=0)


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def _hook_pairs(pairs: Any, argument: str) -> list[tuple[Any, Callable[..., Any]]]:
    """``fwd_hooks`` / ``bwd_hooks`` as a list of ``(target, hook)``, or a TypeError naming the fault."""
    expected = f"{argument} must be a list of (target, hook) pairs, target a name, names or a filter"
    if isinstance(pairs, tuple) and len(pairs) == 2 and callable(pairs[1]) and not callable(pairs[0]):
        raise TypeError(f"{expected}; got one bare pair: wrap it in a list, {argument}=[{pairs!r}]")
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"{expected}; got {type(pairs).__name__}")
    checked = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{expected}; item {i} is {pair!r}")
        if not callable(pair[1]):
            raise TypeError(f"{expected}; the hook of item {i} ({pair[0]!r}) is a {type(pair[1]).__name__}")
        checked.append((pair[0], pair[1]))
    return checked


def _check_device(device: DeviceType) -> None:
    """``device=`` is checked before the forward starts, not by the first tensor moved."""
    if device is None:
        return
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device ({exc})") from None
    if target.type == "cuda" and (
        not torch.cuda.is_available() or (target.index or 0) >= torch.cuda.device_count()
    ):
        raise ValueError(
            f"device={device!r}: this torch sees {torch.cuda.device_count()} CUDA device(s)"
            + ("" if torch.cuda.is_available() else " (CUDA is not available)")
        )


class _BufferWriter:
    """``run_with_cache(out=cache)``: copies each activation into the tensor ``cache`` holds."""

    __slots__ = ("cache", "device", "written")

    def __init__(self, cache: ActivationCache, device: DeviceType) -> None:
        self.cache = cache
        self.device = torch.device(device) if device is not None else None
        self.written: set[str] = set()

    def __setitem__(self, name: str, tensor: Tensor) -> None:
        value = tensor.detach()
        device = self.device if self.device is not None else value.device
        buffer = dict.get(self.cache, name)
        if (
            buffer is not None
            and buffer.shape == value.shape
            and buffer.dtype == value.dtype
            and buffer.device == device
        ):
            buffer.copy_(value)
        else:  # first call, or the shape changed: a buffer of our own, never the model's tensor
            buffer = torch.empty(value.shape, dtype=value.dtype, device=device)
            buffer.copy_(value)
            dict.__setitem__(self.cache, name, buffer)
        self.written.add(name)

    def finish(self, model: nn.Module, has_batch_dim: bool) -> ActivationCache:
        for stale in [name for name in self.cache if name not in self.written]:
            del self.cache[stale]
        self.cache._model_ref = weakref.ref(model)
        self.cache.has_batch_dim = has_batch_dim
        return self.cache


def _make_save_hook(
    cache: dict[str, Tensor],
    suffix: str,
    device: DeviceType,
    remove_batch_dim: bool,
    pos_slice: Slice,
) -> Callable[..., None]:
    """The cheapest caching hook for the options given (the common case is two lines)."""
    if device is None and not remove_batch_dim and pos_slice.is_identity:
        if suffix:

            def save_suffixed(tensor: Tensor, *, hook: Any) -> None:
                cache[hook.name + suffix] = tensor.detach()

            return save_suffixed

        def save(tensor: Tensor, *, hook: Any) -> None:
            cache[hook.name] = tensor.detach() if tensor.requires_grad else tensor

        return save

    def save_general(tensor: Tensor, *, hook: Any) -> None:
        value = tensor.detach()
        if device is not None:
            value = value.to(device)
        if remove_batch_dim:
            value = value[0]
        if not pos_slice.is_identity:
            pos_dim = position_dim(hook.name, getattr(hook, "pos_dim", None))
            if value.dim() >= -pos_dim:
                value = pos_slice.apply(value, dim=pos_dim)
        cache[hook.name + suffix] = value

    return save_general


def require_hooked_root(model: Any, what: str) -> None:
    """``what`` (``"capture()"``, ``"record()"``) runs only on hookpoints roots: refuse others first.

    Another library's root with ``hook_dict`` and ``hooks()`` (TransformerLens's
    TransformerBridge, or TransformerLens without hookpoints' shim) has other semantics for
    both, and would fail later inside that library with an unrelated error.
    """
    if isinstance(model, HookedRootModule):
        return
    has_points = isinstance(getattr(model, "hook_dict", None), dict)
    kind = "has hook points of another library" if has_points else "has no hook points"
    raise TypeError(
        f"{what} needs a hookpoints model (a HookedRootModule); {type(model).__name__} {kind}: "
        "wrap the underlying nn.Module with hookpoints.attach(model) and pass the attached model"
    )
