"""Alias names: another vocabulary for the same hook points, with an optional view.

An alias rule maps a name pattern (``blocks.{layer}.attn.hook_q``) to a canonical point
pattern (``transformer.h.{layer}.attn.c_attn.hook_out``) and a chain of conversion steps
(select the q third, split heads). Applying a scheme to a model creates one *alias point*
per match: a real :class:`HookPoint` named by the alias, whose conversion is the chain.
While an alias point has hooks, one forwarding hook on its canonical point calls it, so
each hook fires exactly once per forward, sees the alias name and the converted view, and an
edit goes back through the chain into the canonical activation.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor

from ..conversions.base import ChainConversion
from ..core.hook_point import HookPoint
from ..extension_points import AliasRule, AliasScheme

_FIELD = re.compile(r"\{(\w+)\}")


def fields(pattern: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(pattern) if f}


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """``blocks.{layer}.x`` -> a regex matching ``blocks.3.x`` with group ``layer``."""
    parts = re.split(r"(\{\w+\})", pattern)
    body = "".join(f"(?P<{p[1:-1]}>[^.]+)" if _FIELD.fullmatch(p) else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


def match_pattern(pattern: str, names: Iterable[str]) -> dict[str, dict[str, str]]:
    regex = pattern_regex(pattern)
    return {name: m.groupdict() for name in names if (m := regex.match(name))}


def build_conversion(chain: Iterable[tuple[str, Mapping[str, Any]]]) -> Any:
    from ..registries import CONVERSIONS

    steps = [CONVERSIONS.create(name, **dict(params)) for name, params in chain]
    if not steps:
        return None
    return steps[0] if len(steps) == 1 else ChainConversion(steps)


def resolve_rules(
    scheme: AliasScheme, rules: Iterable[AliasRule], names: Iterable[str], model_name: str
) -> list[tuple[str, str, AliasRule]]:
    """(alias, canonical, rule) for every match; a rule that matches nothing is an error."""
    pool = list(names)
    resolved: list[tuple[str, str, AliasRule]] = []
    for rule in rules:
        found = match_pattern(rule.target, pool)
        if not found:
            raise ValueError(
                f"alias scheme {scheme.name!r}: alias {rule.alias!r} expects hook point {rule.target!r}, "
                f"which {model_name} does not have"
            )
        resolved += [(rule.alias.format(**groups), canonical, rule) for canonical, groups in found.items()]
    seen: dict[str, str] = {}
    for alias, canonical, _ in resolved:
        if alias in seen and seen[alias] != canonical:
            raise ValueError(
                f"alias scheme {scheme.name!r}: {alias!r} would name both {seen[alias]!r} and {canonical!r}"
            )
        seen[alias] = canonical
    return resolved


class AliasPoint(HookPoint):
    """A hook point that exists under an alias name and fires through its canonical point."""

    def __init__(
        self, name: str, canonical: HookPoint, conversion: Any, scheme: str, pos_dim: int | None
    ) -> None:
        # A view keeps the canonical point's declared layout unless the rule says otherwise or a
        # conversion may change it (then TransformerLens's name rule applies).
        if pos_dim is None and conversion is None:
            pos_dim = canonical.pos_dim
        super().__init__(name, pos_dim=pos_dim)
        self.canonical = canonical
        self.scheme = scheme
        if conversion is not None:
            self.enable_reshape(conversion)
        self._forwarder: Any = None

    def _hooks_changed(self, active: bool) -> None:
        """While this alias has hooks, one forwarding hook on the canonical point calls it."""
        super()._hooks_changed(active)
        if active and (self._forwarder is None or self._forwarder.removed):
            # Permanent, so resets aimed at the canonical point's hooks cannot cut the alias off.
            self._forwarder = self.canonical.add_hook(self._forward_through, is_permanent=True)
        elif not active and self._forwarder is not None:
            self._forwarder.remove()
            self._forwarder = None

    def _run_hooks(self, calls: Any, view: Any, backward: bool) -> tuple[Any, bool]:
        result, changed = super()._run_hooks(calls, view, backward)
        if changed and not backward and result is view and isinstance(result, Tensor):
            # Edited in place: hand back a new tensor, so that the canonical point sees a
            # change and reverts its own conversion if that one copied. Kept in the return
            # value, not on the point, so concurrent and re-entrant calls stay apart.
            result = result.view_as(result)
        return result, changed

    def _forward_through(self, x: Any, *, hook: Any) -> Any:
        result = self(x)
        return None if result is x else result
