"""``HookPoint``: an identity module placed at every activation worth reading or editing.

Hot path design. A hook point is called hundreds of times per forward, almost always with no
hook attached, so its unhooked call must cost close to a plain Python call. ``HookPoint``
therefore overrides ``__call__``: when nothing is attached (no hookpoints hook, no torch hook
registered on it, no global module hook, no compiled or replaced ``forward``) it returns its
input at once; otherwise it goes through ``nn.Module.__call__`` so that hooks users register
with plain torch APIs, global module hooks, ``module.compile()`` and libraries that replace
``forward`` all keep working exactly as on any module.

hookpoints' own hooks are dispatched by ``forward`` from a tuple rebuilt whenever a hook is
added or removed, not through torch's module-hook machinery: forward hooks are plain calls,
backward hooks are one tensor hook on the point's output (cheaper than a full module
backward hook, and identical for an identity module). That single dispatch place is also
where a future thread- or task-local scope would filter hooks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.modules import module as _torch_module

from .conversion import identity_revert_of, revert_accepts_original
from .errors import HookShapeError, NonInvertibleConversionError
from .handles import Direction, LensHandle

# Global module hooks live in these module-level dicts; torch mutates them in place.
_GLOBAL_FORWARD_HOOKS = _torch_module._global_forward_hooks
_GLOBAL_FORWARD_PRE_HOOKS = _torch_module._global_forward_pre_hooks
_GLOBAL_BACKWARD_HOOKS = _torch_module._global_backward_hooks
_GLOBAL_BACKWARD_PRE_HOOKS = _torch_module._global_backward_pre_hooks
_MODULE_CALL = nn.Module.__call__

_LAYER_RE = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")

_Call = tuple[Callable[..., Any], Any, LensHandle]
_T = TypeVar("_T")


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
        pos_dim: Which dimension holds token positions (used by ``run_with_cache(pos_slice=)``);
            -2 for ``[batch, pos, d]``, -3 for per-head ``[batch, pos, head, d]``.
        check_shape: When true (default), a hook that returns a tensor of another shape than
            the one it was given is an error raised at this point. Set false for points whose
            hooks legitimately change shapes.
    """

    # Set in __init__ straight into __dict__ (read on every call; not parameters or buffers).
    _hooks_fwd: list[LensHandle]
    _hooks_bwd: list[LensHandle]
    _fwd_calls: tuple[_Call, ...]
    _bwd_calls: tuple[_Call, ...]
    _slow: bool  # anything attached at all: take _slow_call
    _torch_slow: bool  # something only nn.Module.__call__ honours may be attached
    _on_change: Callable[[HookPoint], None] | None
    _revert_takes_original: bool  # derived from hook_conversion in __setattr__
    _identity_revert: str | None
    _conversion_is_view: bool

    def __init__(self, name: str | None = None, *, pos_dim: int = -2, check_shape: bool = True):
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
        d["_fwd_calls"] = ()
        d["_bwd_calls"] = ()
        d["_slow"] = False
        d["_torch_slow"] = False
        # Called after hooks are added or removed; attach() uses it to install torch hooks on
        # the wrapped module only while this point has hooks.
        d["_on_change"] = None

    # ------------------------------------------------------------------ hot path
    def __call__(self, x: _T) -> _T:
        if (
            self._slow
            or _GLOBAL_FORWARD_HOOKS
            or _GLOBAL_FORWARD_PRE_HOOKS
            or _GLOBAL_BACKWARD_HOOKS
            or _GLOBAL_BACKWARD_PRE_HOOKS
        ):
            return self._slow_call(x)  # type: ignore[no-any-return]
        return x

    def _slow_call(self, x: Any) -> Any:
        if (
            self._torch_slow
            or _GLOBAL_FORWARD_HOOKS
            or _GLOBAL_FORWARD_PRE_HOOKS
            or _GLOBAL_BACKWARD_HOOKS
            or _GLOBAL_BACKWARD_PRE_HOOKS
        ):
            if self._torch_hooked():
                return _MODULE_CALL(self, x)
            self.__dict__["_torch_slow"] = False  # torch hooks were removed through their handles
        if self._bwd_calls:
            return self.forward(x)
        if self._fwd_calls:
            return self._dispatch_forward(x)
        self.__dict__["_slow"] = self._torch_slow  # nothing of ours left: back to the fast path
        return x

    def forward(self, x: Any) -> Any:
        if self._fwd_calls:
            x = self._dispatch_forward(x)
        if self._bwd_calls and isinstance(x, Tensor) and x.requires_grad and torch.is_grad_enabled():
            x = x.view_as(x)  # a node of its own: the hook sees only this use's gradient
            x.register_hook(functools.partial(self._dispatch_backward, self._bwd_calls))
        return x

    def _torch_hooked(self) -> bool:
        """Whether anything only ``nn.Module.__call__`` honours is attached to this module."""
        return bool(
            self._forward_hooks
            or self._forward_pre_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
            or _GLOBAL_FORWARD_HOOKS
            or _GLOBAL_FORWARD_PRE_HOOKS
            or _GLOBAL_BACKWARD_HOOKS
            or _GLOBAL_BACKWARD_PRE_HOOKS
            or getattr(self, "_compiled_call_impl", None) is not None
            or "forward" in self.__dict__
        )

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

    def _dispatch_forward(self, x: Any) -> Any:
        conversion = self.hook_conversion
        if conversion is None:
            result, changed = self._run_hooks(self._fwd_calls, x, backward=False)
            return result if changed else x
        view = conversion.convert(x)
        result, changed = self._run_hooks(self._fwd_calls, view, backward=False)
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
            view = conversion.convert(seen)
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

    # ------------------------------------------------------------------ registration
    @property
    def fwd_hooks(self) -> list[LensHandle]:
        """Forward hooks in call order (a copy; use handles to remove)."""
        return list(self._hooks_fwd)

    @property
    def bwd_hooks(self) -> list[LensHandle]:
        """Backward hooks in call order (a copy; use handles to remove)."""
        return list(self._hooks_bwd)

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
        *,
        _owner: object | None = None,
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
        """
        self._hook_list(dir)  # validates dir before anything changes
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
        handle = LensHandle(self, hook, dir, is_permanent, level, aliases, _owner)
        self._attach(handle, prepend)
        return handle

    def _attach(self, handle: LensHandle, prepend: bool = False) -> None:
        """Insert an already validated handle and refresh dispatch (the hot registration path)."""
        if handle.alias_names is None:
            handle.calls = ((handle.user_hook, self, handle),)
        else:
            handle.calls = tuple(
                (handle.user_hook, AliasedHookPoint(alias, self), handle) for alias in handle.alias_names
            )
        hooks = self._hooks_fwd if handle.dir == "fwd" else self._hooks_bwd
        if prepend:
            hooks.insert(0, handle)
        else:
            hooks.append(handle)
        if len(hooks) == 1:  # the common case: skip the general rebuild
            d = self.__dict__
            d["_fwd_calls" if handle.dir == "fwd" else "_bwd_calls"] = handle.calls
            d["_slow"] = True
            if d["_on_change"] is not None:
                d["_on_change"](self)
        else:
            self._rebuild(handle.dir)

    def _hook_list(self, dir: str) -> list[LensHandle]:
        if dir == "fwd":
            return self._hooks_fwd
        if dir == "bwd":
            return self._hooks_bwd
        raise ValueError(f"dir must be 'fwd' or 'bwd'; got {dir!r}")

    def _rebuild(self, dir: str) -> None:
        hooks = self._hooks_fwd if dir == "fwd" else self._hooks_bwd
        calls: tuple[_Call, ...]
        if not hooks:
            calls = ()
        elif len(hooks) == 1:
            calls = hooks[0].calls
        else:
            calls = tuple(call for handle in hooks for call in handle.calls)
        d = self.__dict__
        d["_fwd_calls" if dir == "fwd" else "_bwd_calls"] = calls
        if calls:
            d["_slow"] = True
        if d["_on_change"] is not None:
            d["_on_change"](self)

    def _detach(self, handle: LensHandle) -> None:
        hooks = self._hooks_fwd if handle.dir == "fwd" else self._hooks_bwd
        try:  # noqa: SIM105 - the hot removal path; suppress() costs more
            hooks.remove(handle)
        except ValueError:
            pass
        handle.removed = True
        handle.calls = ()  # break handle -> calls -> handle so the hook (and its cache) frees at once
        self._rebuild(handle.dir)

    def _detach_many(self, dir: str, keep: Callable[[LensHandle], bool]) -> None:
        hooks = self._hook_list(dir)
        kept = [h for h in hooks if keep(h)]
        if len(kept) != len(hooks):
            for handle in hooks:
                if not keep(handle):
                    handle.removed = True
                    handle.calls = ()
            hooks[:] = kept
            self._rebuild(dir)

    def has_hooks(
        self,
        dir: Literal["fwd", "bwd", "both"] = "both",
        including_permanent: bool = True,
        level: int | None = None,
    ) -> bool:
        """Whether any hook matching the criteria is attached."""
        for handles in self._lists_for(dir):
            for handle in handles:
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
        """Remove hooks; ``level`` restricts removal to that context level, permanent or not."""
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
            from .registry import CONVERSIONS

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
        self._mark_torch_slow()
        return super().register_forward_hook(*args, **kwargs)

    def register_forward_pre_hook(self, *args: Any, **kwargs: Any) -> Any:
        self._mark_torch_slow()
        return super().register_forward_pre_hook(*args, **kwargs)

    def register_full_backward_hook(self, *args: Any, **kwargs: Any) -> Any:
        self._mark_torch_slow()
        return super().register_full_backward_hook(*args, **kwargs)

    def register_full_backward_pre_hook(self, *args: Any, **kwargs: Any) -> Any:
        self._mark_torch_slow()
        return super().register_full_backward_pre_hook(*args, **kwargs)

    def register_backward_hook(self, *args: Any, **kwargs: Any) -> Any:
        self._mark_torch_slow()
        return super().register_backward_hook(*args, **kwargs)

    def _mark_torch_slow(self) -> None:
        d = self.__dict__
        d["_torch_slow"] = d["_slow"] = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("forward", "_compiled_call_impl"):
            self._mark_torch_slow()
        super().__setattr__(name, value)
        if name == "hook_conversion":  # also when set directly, TransformerLens-style
            self._derive_conversion_flags(value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[no-untyped-call]
        self._derive_conversion_flags(self.__dict__.get("hook_conversion"))  # pickles from older versions

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
