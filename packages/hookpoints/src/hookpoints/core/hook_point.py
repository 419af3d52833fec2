"""``HookPoint``: an identity module placed at every activation worth reading or editing.

Hot path design. A hook point is called hundreds of times per forward, almost always with no
hook attached, so its unhooked call must cost close to a plain Python call. Its state is one
flag, :attr:`HookPoint._mode` (a :class:`DispatchMode`), decided in one place
(:meth:`HookPoint._refresh_mode`) whenever something is attached or removed:

- ``REST``: nothing attached; ``__call__`` returns its input at once.
- ``HOOKS``: hookpoints hooks only; ``__call__`` dispatches them itself from call tuples
  rebuilt at registration (forward hooks are plain calls, backward hooks one tensor hook on
  the output, bound at forward time), per hook context (see :mod:`hookpoints.scopes`).
- ``MODULE``: something only ``nn.Module.__call__`` honours (a torch hook registered on the
  point, ``compile()``, a replaced ``forward``, or a subclass with a ``forward`` of its own):
  the call goes through torch, and hookpoints' hooks run inside it.

torch's global module hooks live outside the point and are checked on every call.

A subclass that defines its own ``forward`` (SAELens's sparse hook point) is never bypassed:
its ``forward`` runs on every call, and hookpoints' hooks run on its output through one torch
forward hook, exactly where TransformerLens ran them.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.modules import module as _torch_module

from ..errors import HookShapeError, NonInvertibleConversionError
from .conversion_protocol import identity_revert_of, revert_accepts_original
from .handles import Direction, LensHandle, check_level
from .scopes import (
    CURRENT_CONTEXT,
    REGISTRATION_LOCK,
    THREAD_VIEW,
    HookContext,
    is_visible,
    open_scopes,
    own_context,
    visible_contexts,
)

# Global module hooks live in these module-level dicts; torch mutates them in place.
_GLOBAL_FORWARD_HOOKS = _torch_module._global_forward_hooks
_GLOBAL_FORWARD_PRE_HOOKS = _torch_module._global_forward_pre_hooks
_GLOBAL_BACKWARD_HOOKS = _torch_module._global_backward_hooks
_GLOBAL_BACKWARD_PRE_HOOKS = _torch_module._global_backward_pre_hooks
_MODULE_CALL = nn.Module.__call__
_is_compiling = torch.compiler.is_compiling

_LAYER_RE = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")

_Call = tuple[Callable[..., Any], Any, LensHandle]
_Calls = tuple[tuple[_Call, ...], tuple[_Call, ...]]  # (forward calls, backward calls)
_NO_CALLS: _Calls = ((), ())
_T = TypeVar("_T")


def _global_module_hooks() -> bool:
    return bool(
        _GLOBAL_FORWARD_HOOKS
        or _GLOBAL_FORWARD_PRE_HOOKS
        or _GLOBAL_BACKWARD_HOOKS
        or _GLOBAL_BACKWARD_PRE_HOOKS
    )


def _calls_of(handles: Sequence[LensHandle], contexts: frozenset[HookContext] | None) -> tuple[_Call, ...]:
    """The call triples of ``handles`` seen from ``contexts`` (None: global hooks only)."""
    if contexts is None:
        return tuple(call for h in handles if h.context is None for call in h.calls)
    return tuple(call for h in handles if h.context is None or h.context in contexts for call in h.calls)


def _add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):  # Python >= 3.11
        exc.add_note(note)


class AliasedHookPoint:
    """A view of a :class:`HookPoint` under another name, passed to hooks as ``hook=``.

    Everything but ``name`` (and ``layer()``, which reads the name) is the target's.
    """

    __slots__ = ("_alias_name", "_target")

    def __init__(self, alias_name: str, target: HookPoint) -> None:
        self._alias_name = alias_name
        self._target = target

    @property
    def name(self) -> str:
        return self._alias_name

    @property
    def target(self) -> HookPoint:
        return self._target

    def layer(self) -> int:
        return _layer_of(self._alias_name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target, attr)

    def __repr__(self) -> str:
        return f"AliasedHookPoint({self._alias_name!r} -> {self._target.name!r})"


class DispatchMode(enum.IntEnum):
    """What a hook point's call has to do (``REST`` is 0, so ``if point._mode:`` is the test)."""

    REST = 0
    HOOKS = 1
    MODULE = 2


# Plain globals: reading an enum member through its class costs ~4x a global on the hot path.
_REST, _HOOKS, _MODULE = DispatchMode.REST, DispatchMode.HOOKS, DispatchMode.MODULE


def _layer_of(name: str | None) -> int:
    if name is None:
        raise ValueError("this hook point has no name yet (setup() names hook points)")
    match = _LAYER_RE.search(name)
    if match is None:
        raise ValueError(f"hook point name {name!r} has no layer index (expected e.g. 'blocks.3.…')")
    return int(match.group(1))


class HookPoint(nn.Module):
    """An identity module with named forward and backward hooks.

    Args:
        name: Optional name; :meth:`HookedRootModule.setup` sets it to the module path.
        pos_dim: Which dimension holds token positions (used by ``run_with_cache(pos_slice=)``):
            -2 for ``[batch, pos, d]``, -3 for per-head ``[batch, pos, head, d]``. ``None``
            (default) follows TransformerLens: -3 for names ending in ``hook_q``, ``hook_k``,
            ``hook_v``, ``hook_z`` or ``hook_result``, -2 otherwise.
        check_shape: When true (default), a hook that returns a tensor of another shape, dtype
            or device than the one it was given is an error raised at this point. Set false for
            points whose hooks legitimately change them.
    """

    #: Whether this class defines its own ``forward`` (set for each subclass when defined):
    #: then every call goes through it, and hooks run on its output as in TransformerLens.
    _runs_own_forward: bool = False
    #: Whether this class keeps HookPoint's hook running and change notification (set for
    #: each subclass when defined): only then do registration and dispatch take their
    #: shortcuts, which skip ``_hooks_changed`` and ``_run_hooks`` (an alias point overrides both).
    _plain_hooks: bool = True

    # Set in __init__ straight into __dict__ (read on every call; not parameters or buffers).
    _mode: DispatchMode
    _hooks_fwd: list[LensHandle]  # every forward hook, every context, in call order
    _hooks_bwd: list[LensHandle]
    _calls_global: _Calls  # what a context with no scoped hooks here calls
    _calls_scoped: dict[HookContext, _Calls]  # contexts with scoped hooks here -> what they call
    _runner_handles: tuple[Any, ...]  # torch hook handles while a forward-defining subclass is hooked
    _listener: Callable[[HookPoint, bool], None] | None  # see on_change()
    _revert_takes_original: bool  # derived from hook_conversion in __setattr__
    _identity_revert: str | None
    _conversion_is_view: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._runs_own_forward = cls.forward is not HookPoint.forward
        cls._plain_hooks = (
            cls._hooks_changed is HookPoint._hooks_changed
            and cls._run_hooks is HookPoint._run_hooks
            and cls._dispatch_forward is HookPoint._dispatch_forward
        )

    def __init__(self, name: str | None = None, *, pos_dim: int | None = None, check_shape: bool = True):
        super().__init__()
        self.ctx: dict[Any, Any] = {}
        self.name: str | None = name
        self.hook_conversion: Any = None  # __setattr__ derives _revert_takes_original & co.
        self.backward_scale: float = 1.0
        self.pos_dim = pos_dim
        self.check_shape = check_shape
        d = self.__dict__
        d["_hooks_fwd"] = []
        d["_hooks_bwd"] = []
        d["_calls_global"] = _NO_CALLS
        d["_calls_scoped"] = {}
        d["_runner_handles"] = ()
        d["_listener"] = None
        d["_plain_hooks"] = type(self)._plain_hooks  # read per call: an instance-dict hit
        self._refresh_mode()

    # ------------------------------------------------------------------ hot path
    def __call__(self, x: _T) -> _T:
        if (
            self._mode
            or _GLOBAL_FORWARD_HOOKS
            or _GLOBAL_FORWARD_PRE_HOOKS
            or _GLOBAL_BACKWARD_HOOKS
            or _GLOBAL_BACKWARD_PRE_HOOKS
        ):
            return self._call_hooked(x)  # type: ignore[no-any-return]
        return x

    def _call_hooked(self, x: Any) -> Any:
        if self._mode is _MODULE or (
            _GLOBAL_FORWARD_HOOKS
            or _GLOBAL_FORWARD_PRE_HOOKS
            or _GLOBAL_BACKWARD_HOOKS
            or _GLOBAL_BACKWARD_PRE_HOOKS
        ):
            if self._runs_own_forward or self._torch_hooked() or _global_module_hooks():
                return _MODULE_CALL(self, x)
            self._refresh_mode()  # the torch hooks were removed through their own handles
        scoped = self._calls_scoped
        calls = self._calls_for_context() if scoped else self._calls_global
        fwd = calls[0]
        if len(fwd) == 1 and not calls[1] and self.hook_conversion is None and self._plain_hooks:
            # One forward hook, no conversion (every point under run_with_hooks / run_with_cache):
            # _dispatch's work without its two extra calls.
            fn, hook_arg, handle = fwd[0]
            try:
                result = fn(x, hook=hook_arg)
            except Exception as exc:
                _add_note(exc, f"(raised by forward hook {handle.hook_name} on hook point {self.name!r})")
                raise
            if result is None or result is x:
                return x
            if self.check_shape:
                self._check_replacement(x, result, handle)
            return result
        return self._dispatch(x, calls)

    def forward(self, x: Any) -> Any:
        if self._runs_own_forward:
            return x  # a subclass's forward calling super(): the identity, as in TransformerLens
        return self._dispatch(x, self._calls_for_context())

    def _calls_for_context(self) -> _Calls:
        """The forward and backward calls the running thread or task sees on this point."""
        scoped = self._calls_scoped
        if scoped:
            # dynamo traces a thread-local, not a ContextVar (see core/scopes.py)
            ctx = getattr(THREAD_VIEW, "context", None) if _is_compiling() else CURRENT_CONTEXT.get()
            while ctx is not None:
                found = scoped.get(ctx)
                if found is not None:
                    return found
                ctx = ctx.parent
        return self._calls_global

    def _dispatch(self, x: Any, calls: _Calls) -> Any:
        fwd, bwd = calls
        if fwd:
            x = self._dispatch_forward(fwd, x)
        if bwd and isinstance(x, Tensor) and x.requires_grad and torch.is_grad_enabled():
            x = x.view_as(x)  # a node of its own: the hook sees only this use's gradient
            x.register_hook(functools.partial(self._dispatch_backward, bwd))
        return x

    def _run_own_forward_hook(self, module: nn.Module, args: Any, output: Any) -> Any:
        """The torch forward hook through which a forward-defining subclass runs its hooks."""
        result = self._dispatch(output, self._calls_for_context())
        return None if result is output else result

    def _torch_hooked(self) -> bool:
        """Whether anything only ``nn.Module.__call__`` honours is attached to this module."""
        return bool(
            self._forward_hooks
            or self._forward_pre_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
            or getattr(self, "_compiled_call_impl", None) is not None
            or "forward" in self.__dict__
        )

    def _refresh_mode(self) -> None:
        """The one place that decides :attr:`_mode` (called whenever attachments change)."""
        if self._runs_own_forward or self._torch_hooked():
            mode = _MODULE
        elif self._hooks_fwd or self._hooks_bwd:
            mode = _HOOKS
        else:
            mode = _REST
        self.__dict__["_mode"] = mode

    def _run_hooks(self, calls: tuple[_Call, ...], view: Any, backward: bool) -> tuple[Any, bool]:
        """Call each hook on ``view`` in order; a non-None return replaces it for the next one."""
        changed = False
        for fn, hook_arg, handle in calls:
            try:
                result = fn(view, hook=hook_arg)
            except Exception as exc:
                kind = "backward" if backward else "forward"
                _add_note(exc, f"(raised by {kind} hook {handle.hook_name} on hook point {self.name!r})")
                raise
            if result is not None:
                if result is not view:  # the same tensor back (edited in place) needs no check
                    if backward and isinstance(result, tuple) and len(result) == 1:
                        result = result[0]  # torch-style (grad,) returns
                    if self.check_shape:
                        self._check_replacement(view, result, handle)
                    view = result
                changed = True
        return view, changed

    def _dispatch_forward(self, calls: tuple[_Call, ...], x: Any) -> Any:
        conversion = self.hook_conversion
        if conversion is None:
            result, changed = self._run_hooks(calls, x, backward=False)
            return result if changed else x
        try:
            view = conversion.convert(x)
        except Exception as exc:
            _add_note(
                exc, f"(raised converting the activation of hook point {self.name!r} through {conversion!r})"
            )
            raise
        result, changed = self._run_hooks(calls, view, backward=False)
        if not changed or (result is view and self._conversion_is_view):
            return x  # untouched, or edited in place through a view: the edit is already in x
        return self._revert(result, x, view is x)

    def _dispatch_backward(self, calls: tuple[_Call, ...], grad: Tensor) -> Tensor | None:
        scale = self.backward_scale
        seen = grad * scale if scale != 1.0 else grad
        conversion = self.hook_conversion
        if conversion is None:
            out, changed = self._run_hooks(calls, seen, backward=True)
        else:
            try:
                view = conversion.convert(seen)
            except Exception as exc:
                _add_note(
                    exc,
                    f"(raised converting the gradient at hook point {self.name!r} through {conversion!r})",
                )
                raise
            out, changed = self._run_hooks(calls, view, backward=True)
            if changed:
                if out is view and self._conversion_is_view:
                    out = seen
                else:
                    out = self._revert(out, seen, view is seen)
        if not changed:
            return None
        return out / scale if scale != 1.0 else out  # type: ignore[no-any-return]

    def _revert(self, view: Any, original: Any, converted_to_itself: bool = False) -> Any:
        """Write an edited view back; conversions that accept it also get the original tensor.

        Passing the original (``revert(view, original)``, TransformerLens's ``*full_context``
        slot) lets a conversion that selects part of a tensor (q out of a fused qkv) write the
        edit back into the full tensor without keeping per-call state. A TransformerLens
        identity revert is only right when convert returned the activation itself
        (``converted_to_itself``, as its attention auto-conversion does for 3-D inputs).
        """
        conversion = self.hook_conversion
        try:
            if self._identity_revert is not None and not converted_to_itself:
                raise NonInvertibleConversionError(
                    f"{self._identity_revert} keeps TransformerLens's default revert, which returns the "
                    "edited view unchanged, so the edit would be dropped or land in the wrong layout. "
                    "Hooks may read through it; to edit, give it a revert or use a hookpoints step that "
                    "has one (select_chunk for Split, einops repeat for Repeat)"
                )
            if self._revert_takes_original:
                out = conversion.revert(view, original)
            else:
                out = conversion.revert(view)
        except NonInvertibleConversionError as exc:
            raise NonInvertibleConversionError(
                f"a hook on {self.name!r} returned a value through {conversion!r}: {exc}"
            ) from None
        if (
            self.check_shape
            and isinstance(out, Tensor)
            and isinstance(original, Tensor)
            and out.shape != original.shape
        ):
            raise HookShapeError(
                f"{conversion!r} on hook point {self.name!r} reverted an edited view to shape "
                f"{tuple(out.shape)}, but the activation has shape {tuple(original.shape)}: its revert "
                "does not undo its convert"
            )
        return out

    def _check_replacement(self, given: Any, result: Any, handle: LensHandle) -> None:
        if not isinstance(given, Tensor):
            return
        kind = "forward" if handle.dir == "fwd" else "backward"
        if not isinstance(result, Tensor):
            raise HookShapeError(
                f"{kind} hook {handle.hook_name} on hook point {self.name!r} returned "
                f"{type(result).__name__}; expected None or a Tensor of shape {tuple(given.shape)}"
            )
        if result.shape != given.shape:
            raise HookShapeError(
                f"{kind} hook {handle.hook_name} on hook point {self.name!r} returned a tensor of "
                f"shape {tuple(result.shape)}; it was given shape {tuple(given.shape)}. Return None "
                "to keep the activation, a tensor of the same shape to replace it, or build the "
                "point with HookPoint(check_shape=False) if shape changes are intended"
            )
        if result.dtype != given.dtype or result.device != given.device:
            raise HookShapeError(
                f"{kind} hook {handle.hook_name} on hook point {self.name!r} returned a "
                f"{result.dtype} tensor on {result.device}; it was given {given.dtype} on "
                f"{given.device}. Return the same dtype and device (e.g. new.to(t)), or build the "
                "point with HookPoint(check_shape=False) if the change is intended"
            )

    # ------------------------------------------------------------------ registration
    @property
    def fwd_hooks(self) -> list[LensHandle]:
        """Forward hooks in call order, as the running thread or task sees them (a copy)."""
        return self._visible(self._hooks_fwd)

    @property
    def bwd_hooks(self) -> list[LensHandle]:
        """Backward hooks in call order, as the running thread or task sees them (a copy)."""
        return self._visible(self._hooks_bwd)

    def _visible(self, handles: Sequence[LensHandle]) -> list[LensHandle]:
        if not self._calls_scoped:  # only global hooks here: everyone sees all of them
            return list(handles)
        contexts = visible_contexts()
        return [h for h in handles if is_visible(h, contexts)]

    def add_perma_hook(self, hook: Callable[..., Any], dir: Direction = "fwd") -> LensHandle:
        return self.add_hook(hook, dir=dir, is_permanent=True)

    def add_hook(
        self,
        hook: Callable[..., Any],
        dir: Direction = "fwd",
        is_permanent: bool = False,
        level: int | None = None,
        prepend: bool = False,
        alias_names: Iterable[str] | str | None = None,
    ) -> LensHandle:
        """Attach ``hook(tensor, *, hook=point)`` and return its :class:`LensHandle`.

        A forward hook may return a replacement activation; a backward hook receives the
        gradient at this point and may return a replacement gradient (or a 1-tuple). Returning
        the tensor it was given means "edited in place": values changed in place count, but
        through a conversion, in-place changes to its layout or storage (``transpose_``,
        ``unsqueeze_``, ``.data = ...``, ``set_``) are not written back (checking for them
        would cost every in-place edit about 0.5 µs); return a new tensor for those. With
        ``alias_names`` the hook is called once per alias, each time seeing that name as
        ``hook.name``. Backward hooks are bound at forward time: those attached during a
        forward pass fire in that pass's backward even if removed in between.

        Who sees the hook (see :mod:`hookpoints.scopes`): a permanent hook, or one added
        outside any ``hooks()`` block, is global. Added inside a block it belongs to the
        running thread or task: with ``level=k`` to the open block of that level (and leaves
        with it, as in TransformerLens), otherwise it stays until removed.
        """
        self._hook_list(dir)  # validates dir before anything changes
        check_level(level)
        if not callable(hook):
            raise TypeError(
                f"hook for {self.name!r} must be callable as fn(tensor, *, hook); got {type(hook).__name__}"
            )
        aliases: tuple[str, ...] | None
        if alias_names is None:
            aliases = None
        else:
            aliases = (alias_names,) if isinstance(alias_names, str) else tuple(alias_names)
            if not aliases or not all(isinstance(a, str) for a in aliases):
                raise TypeError(f"alias_names must be a non-empty list of str; got {alias_names!r}")
        handle = LensHandle(None, is_permanent, level, hook, point=self, dir=dir, alias_names=aliases)
        if not is_permanent:
            scopes = open_scopes()
            if scopes:
                adopted = next((s for s in scopes if s.level == level), None) if level is not None else None
                if adopted is not None:  # leaves with that block, as TransformerLens's level reset
                    handle.owner, handle.context = adopted, adopted.context
                    adopted.handles.append(handle)
                else:
                    handle.context = own_context()
        self._attach(handle, prepend)
        return handle

    def _attach(self, handle: LensHandle, prepend: bool = False) -> None:
        """Insert an already validated handle and refresh dispatch (the hot registration path)."""
        with REGISTRATION_LOCK:
            self._insert(handle, prepend)

    def _insert(self, handle: LensHandle, prepend: bool) -> None:
        """:meth:`_attach` for callers that hold the registration lock (one lock per scope)."""
        calls: tuple[_Call, ...]
        if handle.alias_names is None:
            calls = handle.calls = ((handle.user_hook, self, handle),)  # type: ignore[assignment]
        else:
            calls = handle.calls = tuple(
                (handle.user_hook, AliasedHookPoint(alias, self), handle) for alias in handle.alias_names
            )
        forward = handle.dir == "fwd"
        hooks = self._hooks_fwd if forward else self._hooks_bwd
        d = self.__dict__
        if d["_mode"] is _REST and d["_listener"] is None and d["_plain_hooks"]:
            # The first hook on a point at rest (what every scope does on every point): the
            # state _rebuild would derive, set directly. A point at REST has no hooks, no
            # torch-side attachments and no forward of its own.
            hooks.append(handle)
            pair: _Calls = (calls, ()) if forward else ((), calls)
            if handle.context is None:
                d["_calls_global"] = pair
            else:
                d["_calls_scoped"] = {handle.context: pair}
            d["_mode"] = _HOOKS
            return
        if prepend:
            hooks.insert(0, handle)
        else:
            hooks.append(handle)
        self._rebuild()

    def _hook_list(self, dir: str) -> list[LensHandle]:
        if dir == "fwd":
            return self._hooks_fwd
        if dir == "bwd":
            return self._hooks_bwd
        raise ValueError(f"dir must be 'fwd' or 'bwd'; got {dir!r}")

    def _rebuild(self) -> None:
        """Rebuild the call tuples of every context from the handle lists (registration lock held)."""
        fwd, bwd = self._hooks_fwd, self._hooks_bwd
        d = self.__dict__
        count = len(fwd) + len(bwd)
        if count == 0:  # the last hook left (every scope's exit)
            d["_calls_global"], d["_calls_scoped"] = _NO_CALLS, {}
        elif count == 1:  # the common case: one hook
            handle = fwd[0] if fwd else bwd[0]
            calls: _Calls = (handle.calls, ()) if fwd else ((), handle.calls)
            if handle.context is None:
                d["_calls_global"], d["_calls_scoped"] = calls, {}
            else:
                d["_calls_global"], d["_calls_scoped"] = _NO_CALLS, {handle.context: calls}
        else:
            d["_calls_global"] = (_calls_of(fwd, None), _calls_of(bwd, None))
            scoped: dict[HookContext, _Calls] = {}
            for handle in (*fwd, *bwd):
                ctx = handle.context
                if ctx is not None and ctx not in scoped:
                    seen = frozenset(ctx.chain())
                    scoped[ctx] = (_calls_of(fwd, seen), _calls_of(bwd, seen))
            d["_calls_scoped"] = scoped
        # Torch-side attachments refresh the mode themselves when they are added, so a point at
        # REST or HOOKS has none: only a MODULE point needs them re-read (every scope pays this).
        mode = d["_mode"]
        if count == 0:
            if mode is _HOOKS:
                d["_mode"] = _REST
            else:
                self._refresh_mode()
        elif mode is _REST:
            d["_mode"] = _MODULE if self._runs_own_forward else _HOOKS
        active = count > 0
        if self._runs_own_forward:
            self._sync_own_forward_hook(active)
        self._hooks_changed(active)

    def _hooks_changed(self, active: bool) -> None:
        """Called after every change to this point's hooks; ``active``: it has some, in any context."""
        listener = self.__dict__["_listener"]
        if listener is not None:
            listener(self, active)

    def on_change(self, listener: Callable[[HookPoint, bool], None] | None) -> None:
        """Call ``listener(point, has_hooks)`` after hooks are added or removed (``None``: stop).

        ``has_hooks`` counts the hooks of every thread and task. :func:`hookpoints.attach`
        uses it to install a torch hook on the wrapped module only while its point has hooks.
        One listener per point; setting another replaces it.
        """
        if listener is not None and not callable(listener):
            raise TypeError(
                f"on_change on {self.name!r} needs a callable or None; got {type(listener).__name__}"
            )
        self.__dict__["_listener"] = listener

    def _sync_own_forward_hook(self, active: bool) -> None:
        """Keep one torch forward hook on a forward-defining subclass while it has hooks.

        Registered through ``nn.Module.register_forward_hook``, so ``self._forward_hooks``
        is non-empty exactly when TransformerLens's would be (SAELens's sparse hook point
        reads it to decide what its forward returns).
        """
        d = self.__dict__
        if active and not d["_runner_handles"]:
            d["_runner_handles"] = (nn.Module.register_forward_hook(self, self._run_own_forward_hook),)
        elif not active and d["_runner_handles"]:
            for torch_handle in d["_runner_handles"]:
                torch_handle.remove()
            d["_runner_handles"] = ()

    def _detach(self, handle: LensHandle) -> None:
        with REGISTRATION_LOCK:
            self._withdraw(handle)

    def _withdraw(self, handle: LensHandle) -> None:
        """:meth:`_detach` for callers that hold the registration lock (one lock per scope)."""
        forward = handle.dir == "fwd"
        hooks = self._hooks_fwd if forward else self._hooks_bwd
        handle.removed = True
        handle.calls = ()  # break handle -> calls -> handle so the hook (and its cache) frees at once
        d = self.__dict__
        if (
            len(hooks) == 1
            and hooks[0] is handle
            and d["_mode"] is _HOOKS
            and d["_listener"] is None
            and d["_plain_hooks"]
            and not (self._hooks_bwd if forward else self._hooks_fwd)
        ):  # the last hook leaves a plain point (every scope's exit): back to REST directly
            hooks.clear()
            d["_calls_global"], d["_calls_scoped"], d["_mode"] = _NO_CALLS, {}, _REST
            return
        try:  # noqa: SIM105 - the hot removal path; suppress() costs more
            hooks.remove(handle)
        except ValueError:
            pass
        self._rebuild()

    def _detach_many(self, dir: str, keep: Callable[[LensHandle], bool]) -> None:
        """Remove the handles ``keep`` rejects among those the running thread or task sees."""
        with REGISTRATION_LOCK:
            hooks = self._hook_list(dir)
            contexts = visible_contexts() if self._calls_scoped else None
            gone = [h for h in hooks if (contexts is None or is_visible(h, contexts)) and not keep(h)]
            if gone:
                for handle in gone:
                    handle.removed = True
                    handle.calls = ()
                hooks[:] = [h for h in hooks if not h.removed]
                self._rebuild()

    def has_hooks(
        self,
        dir: Literal["fwd", "bwd", "both"] = "both",
        including_permanent: bool = True,
        level: int | None = None,
    ) -> bool:
        """Whether any hook matching the criteria is attached (that the running code sees)."""
        for handles in self._lists_for(dir):
            for handle in self._visible(handles):
                if not including_permanent and handle.is_permanent:
                    continue
                if level is not None and handle.context_level != level:
                    continue
                return True
        return False

    def remove_hooks(
        self,
        dir: Literal["fwd", "bwd", "both"] = "fwd",
        including_permanent: bool = False,
        level: int | None = None,
    ) -> None:
        """Remove hooks; ``level`` restricts removal to that context level, permanent or not.

        Acts on the hooks the running thread or task sees (global ones and its own), never
        on hooks other threads' or tasks' scopes added.
        """
        lists = self._lists_for(dir)

        def keep(handle: LensHandle) -> bool:
            if handle.is_permanent and not including_permanent:
                return True
            return level is not None and handle.context_level != level

        for handles in lists:
            self._detach_many("fwd" if handles is self._hooks_fwd else "bwd", keep)

    def _lists_for(self, dir: str) -> tuple[list[LensHandle], ...]:
        if dir == "both":
            return (self._hooks_fwd, self._hooks_bwd)
        if dir in ("fwd", "bwd"):
            return (self._hook_list(dir),)
        raise ValueError(f"dir must be 'fwd', 'bwd' or 'both'; got {dir!r}")

    def clear_context(self) -> None:
        self.ctx = {}

    def enable_reshape(self, hook_conversion: Any = None, **params: Any) -> None:
        """Give hooks ``hook_conversion.convert(x)``; a non-None return goes through ``revert``.

        ``hook_conversion`` is a conversion object (anything with ``convert`` and ``revert``,
        TransformerLens conversions included), the name of a registered conversion step built
        with ``params`` (``enable_reshape("split_heads", n_heads=4)``), or ``None`` to turn
        the conversion off. The conversion runs once per call however many hooks are attached.
        """
        if isinstance(hook_conversion, str):
            from ..registries import CONVERSIONS

            hook_conversion = CONVERSIONS.create(hook_conversion, **params)
        elif params:
            raise TypeError(f"enable_reshape on {self.name!r}: parameters are only accepted with a step name")
        if hook_conversion is not None and not (
            callable(getattr(hook_conversion, "convert", None))
            and callable(getattr(hook_conversion, "revert", None))
        ):
            raise TypeError(
                f"enable_reshape on {self.name!r} needs a conversion step name, an object with convert() "
                f"and revert() methods, or None; got {type(hook_conversion).__name__}"
            )
        self.hook_conversion = hook_conversion  # __setattr__ derives the dispatch flags

    def layer(self) -> int:
        """The layer index in this point's name (the first integer path component)."""
        return _layer_of(self.name)

    # ------------------------------------------------------------------ torch integration
    def register_forward_hook(self, *args: Any, **kwargs: Any) -> Any:
        handle = super().register_forward_hook(*args, **kwargs)
        self._refresh_mode()
        return handle

    def register_forward_pre_hook(self, *args: Any, **kwargs: Any) -> Any:
        handle = super().register_forward_pre_hook(*args, **kwargs)
        self._refresh_mode()
        return handle

    def register_full_backward_hook(self, *args: Any, **kwargs: Any) -> Any:
        handle = super().register_full_backward_hook(*args, **kwargs)
        self._refresh_mode()
        return handle

    def register_full_backward_pre_hook(self, *args: Any, **kwargs: Any) -> Any:
        handle = super().register_full_backward_pre_hook(*args, **kwargs)
        self._refresh_mode()
        return handle

    def register_backward_hook(self, *args: Any, **kwargs: Any) -> Any:
        handle = super().register_backward_hook(*args, **kwargs)
        self._refresh_mode()
        return handle

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in ("forward", "_compiled_call_impl") and "_hooks_fwd" in self.__dict__:
            self._refresh_mode()
        elif name == "hook_conversion":  # also when set directly, TransformerLens-style
            self._derive_conversion_flags(value)

    def _derive_conversion_flags(self, conversion: Any) -> None:
        """Read once per assignment what dispatch needs to know about ``hook_conversion``."""
        d = self.__dict__
        revert = getattr(conversion, "revert", None)
        d["_revert_takes_original"] = callable(revert) and revert_accepts_original(revert)
        d["_identity_revert"] = None if conversion is None else identity_revert_of(conversion)
        # A hook that returns the very view it got edited it in place: the edit is already
        # in the activation when convert always returns a view sharing its memory.
        d["_conversion_is_view"] = (
            getattr(conversion, "convert_returns_view", False) is True
            and getattr(conversion, "invertible", True) is not False
            and getattr(conversion, "input_filter", None) is None  # a filter may copy
            and getattr(conversion, "output_filter", None) is None
            and d["_identity_revert"] is None
        )

    def __repr__(self) -> str:
        bits = [f"name={self.name!r}"] if self.name is not None else []
        if self._hooks_fwd:
            bits.append(f"{len(self._hooks_fwd)} fwd")
        if self._hooks_bwd:
            bits.append(f"{len(self._hooks_bwd)} bwd")
        return f"HookPoint({', '.join(bits)})"
