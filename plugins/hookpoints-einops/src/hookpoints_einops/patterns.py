"""einops patterns, parsed just enough to write their inverses.

A pattern side is a list of groups: a single token (``b``, ``1``, ``...``) or a
parenthesized composition (``(h d)``). To invert ``left -> right`` we swap the sides,
replace ``...`` by named axes (so it may sit inside parentheses on either side) and find the
length of every axis from the shapes on both sides, so einops can split composed axes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ELLIPSIS = "..."
_TOKEN = re.compile(r"\.\.\.|…|[()]|[^\s()]+")


@dataclass(frozen=True)
class Group:
    """One input or output dimension: ``tokens`` multiplied together (``composite`` if in parentheses)."""

    tokens: tuple[str, ...]
    composite: bool

    def render(self) -> str:
        body = " ".join(self.tokens)
        return f"({body})" if self.composite else body


def _is_name(token: str) -> bool:
    return token != ELLIPSIS and not token.isdigit()


def parse_side(step: str, pattern: str, side: str) -> tuple[Group, ...]:
    groups: list[Group] = []
    current: list[str] | None = None
    for token in _TOKEN.findall(side):
        token = ELLIPSIS if token == "…" else token
        if token == "(":
            if current is not None:
                raise ValueError(f"{step}: nested parentheses in pattern {pattern!r}")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"{step}: unbalanced ')' in pattern {pattern!r}")
            groups.append(Group(tuple(current), True))
            current = None
        else:
            if token != ELLIPSIS and not (token.isidentifier() or token.isdigit()):
                raise ValueError(
                    f"{step}: {token!r} in pattern {pattern!r} is not an axis name, a number, '...' or a "
                    "parenthesis"
                )
            if current is None:
                groups.append(Group((token,), False))
            else:
                current.append(token)
    if current is not None:
        raise ValueError(f"{step}: unbalanced '(' in pattern {pattern!r}")
    tokens = [t for g in groups for t in g.tokens]
    if tokens.count(ELLIPSIS) > 1:
        raise ValueError(f"{step}: '...' appears twice on one side of pattern {pattern!r}")
    named = [t for t in tokens if _is_name(t)]
    twice = sorted({t for t in named if named.count(t) > 1})
    if twice:
        raise ValueError(f"{step}: axes {twice} appear twice on one side of pattern {pattern!r}")
    return tuple(groups)


def merges_axes(group: Group) -> bool:
    """Whether an output group composes several axes, a reshape that copies some layouts.

    ``...`` inside parentheses counts: it may stand for several axes. Unit axes do not.
    """
    if not group.composite:
        return False
    real = [t for t in group.tokens if t != "1"]
    return len(real) > 1 or ELLIPSIS in real


def names(groups: Sequence[Group]) -> set[str]:
    return {t for g in groups for t in g.tokens if _is_name(t)}


def has_ellipsis(groups: Sequence[Group]) -> bool:
    return any(ELLIPSIS in g.tokens for g in groups)


def ellipsis_length(groups: Sequence[Group], ndim: int) -> int | None:
    """How many dimensions ``...`` stands for, read off a side of ``ndim`` dims (None: can't tell)."""
    for g in groups:
        if ELLIPSIS in g.tokens:
            return ndim - (len(groups) - 1) if not g.composite else None
    return 0


def expand(groups: Sequence[Group], ellipsis_names: Sequence[str]) -> list[Group]:
    """Replace ``...`` by ``ellipsis_names`` (standalone axes, or inside its parentheses)."""
    out: list[Group] = []
    for g in groups:
        if ELLIPSIS not in g.tokens:
            out.append(g)
        elif g.composite:
            tokens: list[str] = []
            for t in g.tokens:
                tokens.extend(ellipsis_names if t == ELLIPSIS else (t,))
            out.append(Group(tuple(tokens), True))
        else:
            out.extend(Group((name,), False) for name in ellipsis_names)
    return out


def solve(sides: Sequence[tuple[Sequence[Group], Sequence[int]]], known: Mapping[str, int]) -> dict[str, int]:
    """Axis lengths from shapes: any group with one unknown axis determines it; repeat."""
    lengths = dict(known)
    changed = True
    while changed:
        changed = False
        for groups, shape in sides:
            for group, size in zip(groups, shape, strict=True):
                product = 1
                unknown: list[str] = []
                for t in group.tokens:
                    if t.isdigit():
                        product *= int(t)
                    elif t in lengths:
                        product *= lengths[t]
                    else:
                        unknown.append(t)
                if len(unknown) == 1 and product and size % product == 0:
                    lengths[unknown[0]] = size // product
                    changed = True
    return lengths


def fresh_prefix(taken: set[str], base: str) -> str:
    """A prefix no axis name starts with, for the names of generated axes."""
    prefix = base
    while any(name.startswith(prefix) for name in taken):
        prefix += "x"
    return prefix
