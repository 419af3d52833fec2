"""``attach``: hook points on any existing ``nn.Module``, without changing it.

Every submodule at path ``p`` gets two points: ``p.hook_in`` (its first positional input, or
its first tensor keyword argument) and ``p.hook_out`` (its output; for tuple or
``ModelOutput``-style outputs the first tensor, written back into the same structure). The
model itself gets ``hook_in`` and ``hook_out`` too (unless ``include`` selects paths), so a
model without submodules (a bare ``nn.Linear``) still has its input and output. A
torch hook is installed on a submodule only while one of its points has hooks, so an
attached model at rest runs exactly the unmodified model. ``detach()`` (or leaving
``with attach(model) as hooked:``) removes every hook it installed.

A module called several times in one forward pass (weight sharing, a block reused in a
loop) fires its points every time; a cache keeps the value of the **last** call, as
``run_with_cache`` does for any point that fires repeatedly. Use a hook (or
``hookpoints.record``) to see every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from torch import Tensor, nn

from .aliases.points import AliasPoint, build_conversion, resolve_rules
from .core.hook_point import HookPoint
from .core.names import NamesFilter, normalize_names_filter
from .core.root import HookedRootModule
from .errors import HookNameError
from .extension_points import AliasScheme


def _pre_hook(point: HookPoint) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if args:
            first = args[0]
            if isinstance(first, Tensor):
                new = point(first)
                return None if new is first else ((new, *args[1:]), kwargs)
            return None
        for key, value in kwargs.items():
            if isinstance(value, Tensor):
                new = point(value)
                return None if new is value else (args, {**kwargs, key: new})
        return None

    return hook


def _primary(output: Any) -> tuple[Any, Any]:
    """(key, tensor) of an output's primary tensor; key None for a bare tensor."""
    if isinstance(output, Tensor):
        return None, output
    if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
        return 0, output[0]
    if isinstance(output, Mapping):
        for key, value in output.items():
            if isinstance(value, Tensor):
                return key, value
    return None, None


def _post_hook(point: HookPoint) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        key, value = _primary(output)
        if value is None:
            return None
        new = point(value)
        if new is value:
            return None
        if key is None:
            return new
        if isinstance(output, tuple):
            return (new, *output[1:])
        output[key] = new  # ModelOutput / dict: same object, primary field replaced
        return output

    return hook


_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


class AttachedModel(HookedRootModule):
    """A :class:`HookedRootModule` view of an unmodified model (see :func:`attach`)."""

    def points_not_expected_to_fire(self) -> list[str]:
        """Points a forward is not expected to call, so reports never list them as never fired.

        A container (``ModuleList``, ``ModuleDict``: no ``forward`` of its own) is never called;
        a dropout module in eval mode is often skipped (attention passes ``dropout_p=0`` to SDPA
        instead of calling it).
        """
        quiet = []
        for name, (module, _) in self._owner.items():
            container = type(module).forward is nn.Module.forward
            if container or (isinstance(module, _DROPOUT) and not module.training):
                quiet.append(name)
        return quiet

    def __init__(self, model: nn.Module, include: NamesFilter = None) -> None:
        super().__init__()
        self.__dict__["model"] = model  # not a registered submodule: the view adds no names
        self._torch_handles: dict[str, Any] = {}
        self._owner: dict[str, tuple[nn.Module, str]] = {}
        self.mod_dict = {}
        self.hook_dict = {}
        self.alias_schemes: list[str] = []
        selector = normalize_names_filter(include)
        modules = dict(model.named_modules())
        if selector.names is not None:
            missing = [n for n in selector.ordered if n not in modules or not n]
            if missing:
                paths = [p for p in modules if p]
                raise HookNameError(
                    missing[0],
                    paths,
                    what=f"{type(model).__name__} module path (include=)",
                    no_match=f"its module paths are {_listing(paths)}",
                )
        for path, module in modules.items():
            if path and not selector(path):
                continue
            if not path and include is not None:
                continue  # the model's own points come with the default, every module
            if path:
                self.mod_dict[path] = module
            for kind in ("hook_in", "hook_out"):
                name = f"{path}.{kind}" if path else kind
                point = HookPoint(name)
                point.on_change(self._sync)
                self.hook_dict[name] = point
                self._owner[name] = (module, kind)
        if "hook_out" in self.hook_dict:  # the model's output comes last, as it does in a forward
            self.hook_dict["hook_out"] = self.hook_dict.pop("hook_out")
        if include is not None and not self.hook_dict:
            raise ValueError(
                f"attach(include={include!r}) matched no module of {type(model).__name__}; its module "
                f"paths are {_listing([p for p in modules if p])}"
            )

    def setup(self) -> None:
        """Nothing to do: points are created by :func:`attach`."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def _sync(self, point: HookPoint, active: bool) -> None:
        name = point.name
        assert name is not None
        handle = self._torch_handles.get(name)
        if active and handle is None:
            module, kind = self._owner[name]
            if kind == "hook_in":
                handle = module.register_forward_pre_hook(_pre_hook(point), with_kwargs=True)
            else:
                handle = module.register_forward_hook(_post_hook(point))
            self._torch_handles[name] = handle
        elif not active and handle is not None:
            handle.remove()
            del self._torch_handles[name]

    def add_alias_scheme(self, scheme: str | AliasScheme) -> list[str]:
        """Add the aliases of a scheme (by name from the registry, or a scheme object).

        Returns the alias names added. A rule that matches no hook point of this model is an
        error naming the scheme, the alias and the point it expected.
        """
        if isinstance(scheme, str):
            from .registries import ALIASES

            scheme = ALIASES.get(scheme)
        elif not isinstance(scheme, AliasScheme):
            raise TypeError(
                f"aliases must be an alias scheme name (str) or an AliasScheme; got {type(scheme).__name__} "
                f"{scheme!r}"
            )
        rules = scheme.rules_for(self.model)
        resolved = resolve_rules(scheme, rules, list(self.hook_dict), type(self.model).__name__)
        position = {name: i for i, name in enumerate(self.hook_dict)}
        resolved.sort(key=lambda item: position[item[1]])  # aliases in model order, not table order
        clashes = [alias for alias, _, _ in resolved if alias in self.hook_dict]
        if clashes:
            raise ValueError(f"alias scheme {scheme.name!r}: {clashes[0]!r} is already a hook point name")
        conversions = {id(rule): build_conversion(rule.conversions) for _, _, rule in resolved}
        added = []
        for alias, canonical, rule in resolved:
            point = AliasPoint(
                alias, self.hook_dict[canonical], conversions[id(rule)], scheme.name, rule.pos_dim
            )
            self.hook_dict[alias] = point
            added.append(alias)
        self.alias_schemes.append(scheme.name)
        return added

    @property
    def torch_hook_count(self) -> int:
        """How many torch hooks this view has installed on the model right now."""
        return len(self._torch_handles)

    def detach(self) -> None:
        """Remove every hook, permanent ones included; the model is left exactly as it was."""
        for point in self.hook_dict.values():
            point.remove_hooks("both", including_permanent=True)
        for handle in self._torch_handles.values():
            handle.remove()
        self._torch_handles.clear()

    def __enter__(self) -> AttachedModel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.detach()

    def __repr__(self) -> str:
        return (
            f"AttachedModel({type(self.model).__name__}, {len(self.hook_dict)} hook points, "
            f"{self.torch_hook_count} torch hooks installed)"
        )


def attach(
    model: nn.Module,
    *,
    aliases: str | AliasScheme | Iterable[str | AliasScheme] | None = None,
    include: NamesFilter = None,
) -> AttachedModel:
    """Hook points on an unmodified model: ``hooked = hookpoints.attach(model)``.

    Args:
        aliases: Alias scheme(s) to add (names from the registry, e.g. ``"transformerlens"``).
        include: Which module paths get points (a names filter; default all submodules).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"attach() needs a torch.nn.Module; got {type(model).__name__} {_short_repr(model)}")
    schemes: list[Any] = []
    given: object = aliases
    if aliases is not None:
        if isinstance(aliases, (str, AliasScheme)):
            schemes = [aliases]
        elif isinstance(aliases, Iterable) and not isinstance(given, (bytes, bytearray)):
            schemes = list(aliases)
        else:
            raise TypeError(
                "aliases must be an alias scheme name, an AliasScheme, or a list of them; got "
                f"{type(aliases).__name__} {aliases!r}"
            )
        from .registries import ALIASES

        for scheme in schemes:  # every name is looked up before anything is attached
            if isinstance(scheme, str):
                ALIASES.get(scheme)
    view = AttachedModel(model, include)
    for scheme in schemes:
        view.add_alias_scheme(scheme)
    return view


def _listing(paths: list[str], limit: int = 8) -> str:
    if not paths:
        return "none (it has no submodules: leave include out)"
    return ", ".join(repr(p) for p in paths[:limit]) + (
        f", ... ({len(paths)} in all)" if len(paths) > limit else ""
    )


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
