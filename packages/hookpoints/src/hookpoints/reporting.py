"""A plain-text hook report: every hook point, what it captured, what is attached.

No dependency beyond the core; richer reporters (rich, JSON) build on the same facts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .cache import _format_bytes
from .names import hook_display_name


def format_hook_report(model: Any, cache: Mapping[str, Tensor] | None = None, width: int = 100) -> str:
    """Render a table of hook points: shape and dtype captured (if ``cache``) and hooks attached.

    Points that a cache was expected to hold but does not (they never fired) are marked.
    """
    hook_dict = getattr(model, "hook_dict", None)
    if hook_dict is None:
        raise TypeError(
            f"format_hook_report needs a model with hook points (hook_dict); got {type(model).__name__}"
        )
    rows: list[tuple[str, str, str, str]] = []
    for name, point in hook_dict.items():
        shape = dtype = ""
        if cache is not None:
            value = cache.get(name)
            if isinstance(value, Tensor):
                shape = "x".join(str(s) for s in value.shape) or "scalar"
                dtype = str(value.dtype).replace("torch.", "")
            else:
                shape = "-"
        attached = [
            f"{h.dir}:{hook_display_name(h.user_hook)}" + ("*" if h.is_permanent else "")
            for h in (*point._hooks_fwd, *point._hooks_bwd)
        ]
        rows.append((name, shape, dtype, ", ".join(attached) or "-"))
    headers = ("hook point", "shape", "dtype", "hooks (* = permanent)")
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i]) for i in range(4)]
    widths[0] = min(widths[0], max(20, width // 2))

    def line(cells: tuple[str, ...]) -> str:
        out = "  ".join(c[: widths[i]].ljust(widths[i]) for i, c in enumerate(cells))
        return out.rstrip()[:width]

    lines = [line(headers), line(tuple("-" * w for w in widths))]
    lines += [line(r) for r in rows]
    n_hooks = sum(1 for _, _, _, a in rows if a != "-")
    summary = f"{len(rows)} hook points, {n_hooks} with hooks attached"
    if cache is not None:
        captured = sum(1 for n in hook_dict if n in cache)
        nbytes = sum(t.numel() * t.element_size() for t in cache.values())
        summary += f", {captured} captured ({_format_bytes(nbytes)})"
        missing = len(rows) - captured
        if missing:
            summary += f", {missing} not captured ('-')"
    lines.append(summary)
    return "\n".join(lines)


def report_data(model: Any, cache: Mapping[str, Tensor] | None = None) -> dict[str, Any]:
    """The facts every reporter renders, as plain data (schema ``hookpoints.report/1``).

    ``{"schema", "model", "hook_points": [{"name", "captured", "shape", "dtype", "hooks":
    [{"dir", "hook", "permanent", "level"}]}], "summary": {"hook_points", "hooked",
    "captured", "captured_bytes"}}``; ``shape``/``dtype`` are null when nothing was captured.
    """
    hook_dict = getattr(model, "hook_dict", None)
    if hook_dict is None:
        raise TypeError(
            f"a hook report needs a model with hook points (hook_dict); got {type(model).__name__}"
        )
    points = []
    for name, point in hook_dict.items():
        value = cache.get(name) if cache is not None else None
        captured = isinstance(value, Tensor)
        points.append(
            {
                "name": name,
                "captured": captured,
                "shape": list(value.shape) if captured else None,  # type: ignore[union-attr]
                "dtype": str(value.dtype).replace("torch.", "") if captured else None,  # type: ignore[union-attr]
                "hooks": [
                    {
                        "dir": h.dir,
                        "hook": hook_display_name(h.user_hook),
                        "permanent": h.is_permanent,
                        "level": h.context_level,
                    }
                    for h in (*point._hooks_fwd, *point._hooks_bwd)
                ],
            }
        )
    captured_bytes = sum(t.numel() * t.element_size() for t in cache.values()) if cache is not None else 0
    return {
        "schema": "hookpoints.report/1",
        "model": type(model).__name__,
        "hook_points": points,
        "summary": {
            "hook_points": len(points),
            "hooked": sum(1 for p in points if p["hooks"]),
            "captured": sum(1 for p in points if p["captured"]),
            "captured_bytes": captured_bytes,
        },
    }


class TextReporter:
    """The ``text`` reporter: :func:`format_hook_report`."""

    def render(self, model: Any, cache: Mapping[str, Any] | None = None, *, width: int = 100) -> str:
        return format_hook_report(model, cache, width=width)


class JsonReporter:
    """The ``json`` reporter: :func:`report_data` as indented JSON (stable for tools)."""

    def render(self, model: Any, cache: Mapping[str, Any] | None = None, *, width: int = 100) -> str:
        return json.dumps(report_data(model, cache), indent=1)


def report(
    model: Any, cache: Mapping[str, Tensor] | None = None, reporter: str | None = None, *, width: int = 100
) -> str:
    """Render a hook report with the named reporter (default: the highest-priority installed)."""
    from .registry import REPORTERS

    return str(REPORTERS.create(reporter).render(model, cache, width=width))
