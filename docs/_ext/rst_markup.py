"""Griffe extension for the docs build: render the reST bits of hookpoints' docstrings.

The docstrings are Google style but cross-reference with Sphinx roles (``:class:`HookPoint```)
and hold a bare doctest or two. Markdown shows the first literally and turns ``>>>`` into
nested block quotes, so this rewrites roles to inline code and fences bare doctests as
``pycon``. It only touches the rendered copy; the source is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|obj|data|const):`~?([^`]+)`")


def _fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if not in_fence and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            block: list[str] = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += [f"{indent}```pycon", *block, f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class RstMarkup(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        value = _ROLE.sub(r"`\1`", obj.docstring.value)
        obj.docstring.value = _fence_doctests(value)
