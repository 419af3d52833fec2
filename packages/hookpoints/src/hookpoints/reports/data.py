"""What a hook report says, as reporter-independent data.

Reporters (``text`` and ``json`` in the core, ``rich`` in a plugin) only render a
:class:`HookReport`; they never walk models themselves. A report has three optional layers:

- the **inventory**: every hook point, in model order, with its attached hooks (direction,
  permanent, owning scope, the hook's name, aliases) and conversion;
- the **activations**, from a :class:`~hookpoints.recording.RunRecord` (times fired, hook
  time, statistics of the last call) or from a cache (statistics of the cached tensor);
  points that never fired are called out, not silently left blank;
- a **comparison** of two caches (clean vs patched): per point max |diff| and relative norm,
  sorted, and the first point in execution order where they diverge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..core.names import hook_display_name

if TYPE_CHECKING:
    from ..core.root import HookedRootModule
    from .recording import RunRecord

SCHEMA = "hookpoints.report/1"


@dataclass(frozen=True)
class HookInfo:
    dir: str
    hook: str
    permanent: bool
    level: int | None
    scoped: bool  # owned by a hooks() block (removed when it exits)
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class ActivationStats:
    shape: tuple[int, ...]
    dtype: str
    device: str
    bytes: int
    mean: float | None  # None for empty tensors; NaN/Inf entries are excluded from mean/std/absmax
    std: float | None
    absmax: float | None
    nan: int
    inf: int

    @classmethod
    def of(cls, tensor: Tensor) -> ActivationStats:
        """Summarise a tensor with as few kernel launches and host syncs as possible."""
        t = tensor.detach()
        values = t.abs() if t.is_complex() else t
        values = values.reshape(-1).to(torch.float64)
        nan = inf = 0
        if values.numel() and not bool(torch.isfinite(values).all()):
            nan = int(torch.isnan(values).sum())
            inf = int(torch.isinf(values).sum())
            values = values[torch.isfinite(values)]
        mean = std = absmax = None
        if values.numel():
            mean_t = values.mean()
            var = (values - mean_t).square_().mean()
            mean, var_f, low_f, high_f = torch.stack([mean_t, var, values.min(), values.max()]).tolist()
            std, absmax = var_f**0.5, max(-low_f, high_f)
        return cls(
            shape=tuple(t.shape),
            dtype=str(t.dtype).replace("torch.", ""),
            device=str(t.device),
            bytes=t.numel() * t.element_size(),
            mean=mean,
            std=std,
            absmax=absmax,
            nan=nan,
            inf=inf,
        )

    @property
    def anomalous(self) -> bool:
        """NaN entries: always a problem. Infinities alone are not (a causal mask holds -inf)."""
        return bool(self.nan)

    @property
    def infinite_only(self) -> bool:
        """Infinities and no NaN: counted and shown, never alarming (masks, log-probabilities of 0)."""
        return bool(self.inf) and not self.nan


@dataclass(frozen=True)
class PointReport:
    name: str
    hooks: tuple[HookInfo, ...]
    conversion: str | None
    stats: ActivationStats | None
    fired: int | None  # None when no run was recorded
    hook_seconds: float | None  # time spent in the point's user hooks (recorded runs)
    #: Whether a forward is expected to call this point (False: a container module, which is
    #: never called, or a dropout module in eval mode, which models often skip). Only points
    #: expected to fire are listed as never fired.
    expected_to_fire: bool = True

    @property
    def never_fired(self) -> bool:
        return self.fired == 0 and self.expected_to_fire


@dataclass(frozen=True)
class PointDiff:
    name: str
    max_abs_diff: float
    rel_norm: float  # ||patched - clean|| / ||clean|| (inf when clean is all zeros and they differ)
    shapes_differ: bool = False


@dataclass(frozen=True)
class CacheComparison:
    diffs: tuple[PointDiff, ...]  # sorted by rel_norm, largest first
    first_divergence: str | None  # first point in execution order whose max |diff| > atol
    atol: float
    only_in_clean: tuple[str, ...]
    only_in_patched: tuple[str, ...]


@dataclass(frozen=True)
class HookReport:
    model: str
    points: tuple[PointReport, ...]
    recorded: bool  # fired counts and hook times come from a RunRecord
    captured: bool  # statistics come from a cache
    comparison: CacheComparison | None = None

    @property
    def never_fired(self) -> list[str]:
        return [p.name for p in self.points if p.never_fired]

    @property
    def anomalies(self) -> list[str]:
        """Points whose activation holds NaN."""
        return [p.name for p in self.points if p.stats is not None and p.stats.anomalous]

    @property
    def infinite(self) -> list[str]:
        """Points holding infinities but no NaN (e.g. masked attention scores): not alarming."""
        return [p.name for p in self.points if p.stats is not None and p.stats.infinite_only]

    def _repr_html_(self) -> str:
        """Jupyter's view: hookpoints-html's fragment when installed, else the text report."""
        from html import escape

        from ..registries import REPORTERS

        if "html" in REPORTERS.available():
            fragment = getattr(REPORTERS.create("html"), "repr_html", None)
            if callable(fragment):
                return str(fragment(self))
        return f"<pre>{escape(REPORTERS.render('text', self, width=120, color=False))}</pre>"

    def summary(self) -> dict[str, Any]:
        with_stats = [p for p in self.points if p.stats is not None]
        return {
            "hook_points": len(self.points),
            "hooked": sum(1 for p in self.points if p.hooks),
            "with_activation": len(with_stats),
            "activation_bytes": sum(p.stats.bytes for p in with_stats if p.stats is not None),
            "never_fired": self.never_fired if self.recorded else None,
            "anomalies": self.anomalies,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain data following ``report.schema.json`` (JSON-safe: non-finite floats are null)."""
        data: dict[str, Any] = _json_safe(
            {
                "schema": SCHEMA,
                "model": self.model,
                "recorded": self.recorded,
                "captured": self.captured,
                "hook_points": [asdict(p) for p in self.points],
                "comparison": asdict(self.comparison) if self.comparison is not None else None,
                "summary": self.summary(),
            }
        )
        return data


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def execution_order(cache: Mapping[str, Any], run: RunRecord | None = None) -> list[str]:
    """Names in the order the forward pass reached them, for a comparison's first divergence.

    A recorded run lists points as they first fired; a cache filled by ``run_with_cache`` or
    ``capture`` holds them in the order they fired too. Model order (``hook_dict``) is not
    execution order: alias schemes add names in their table's order (``ln_final`` before
    ``blocks.0``) and modules are listed as registered, not as called.
    """
    fired = list(run.points) if run is not None else []
    return list(dict.fromkeys([*fired, *cache]))


def compare_caches(
    clean: Mapping[str, Tensor],
    patched: Mapping[str, Tensor],
    *,
    atol: float = 0.0,
    order: Sequence[str] | None = None,
) -> CacheComparison:
    """Compare two caches point by point.

    ``order`` is execution order, for the first divergence (default: ``clean``'s own order,
    which is the order its points fired in; see :func:`execution_order`).
    """
    common = [n for n in (order or clean) if n in clean and n in patched]
    diffs: list[PointDiff] = []
    for name in common:
        a, b = clean[name].detach(), patched[name].detach()
        if a.shape != b.shape:
            diffs.append(PointDiff(name, math.inf, math.inf, shapes_differ=True))
            continue
        a64, b64 = a.to(torch.float64), b.to(a.device).to(torch.float64)
        same = (a64 == b64) | (a64.isnan() & b64.isnan())  # equal infs (masks) and NaNs are no change
        delta = torch.where(same, torch.zeros_like(a64), (b64 - a64).abs())
        finite = torch.isfinite(delta)
        nonfinite_change = bool((~finite).any())  # a value became NaN/Inf (or stopped being one)
        delta = torch.where(finite, delta, torch.zeros_like(delta))
        max_abs = math.inf if nonfinite_change else (float(delta.max()) if delta.numel() else 0.0)
        norm = float(torch.where(torch.isfinite(a64), a64, torch.zeros_like(a64)).norm())
        diff_norm = math.inf if nonfinite_change else float(delta.norm())
        rel = diff_norm / norm if norm else (0.0 if diff_norm == 0 else math.inf)
        diffs.append(PointDiff(name, max_abs, rel))
    first = next((d.name for d in diffs if d.shapes_differ or d.max_abs_diff > atol), None)
    ranked = sorted(diffs, key=lambda d: (-d.rel_norm, -d.max_abs_diff, d.name))
    return CacheComparison(
        tuple(ranked),
        first,
        atol,
        tuple(n for n in clean if n not in patched),
        tuple(n for n in patched if n not in clean),
    )


def _describe_conversion(conversion: Any) -> str | None:
    if conversion is None:
        return None
    return type(conversion).__name__


def build_report(
    model: HookedRootModule,
    cache: Mapping[str, Tensor] | None = None,
    *,
    run: RunRecord | None = None,
    compare: CacheComparison | tuple[Mapping[str, Tensor], Mapping[str, Tensor]] | None = None,
) -> HookReport:
    """Collect the report of ``model``: inventory, plus activations (``run`` or ``cache``) and a comparison.

    ``compare`` is a :class:`CacheComparison` or a ``(clean, patched)`` pair of caches.
    """
    hook_dict = getattr(model, "hook_dict", None)
    if hook_dict is None:
        raise TypeError(
            f"a hook report needs a model with hook points (hook_dict); got {type(model).__name__}"
        )
    if isinstance(compare, tuple):
        compare = compare_caches(*compare, order=execution_order(compare[0], run))
    quiet = getattr(model, "points_not_expected_to_fire", None)
    not_expected = frozenset(quiet()) if callable(quiet) else frozenset()
    points = []
    for name, point in hook_dict.items():
        hooks = tuple(
            HookInfo(
                h.dir,
                hook_display_name(h.user_hook),
                h.is_permanent,
                h.context_level,
                h.owner is not None,
                h.alias_names or (),
            )
            for h in (*point.fwd_hooks, *point.bwd_hooks)
            if run is None or not run.owns(h)
        )
        stats = fired = seconds = None
        if run is not None and name in run.watched:
            entry = run.points.get(name)
            fired = entry.fired if entry else 0
            seconds = entry.hook_seconds if entry else 0.0
            stats = entry.stats if entry else None
        if stats is None and cache is not None and isinstance(cache.get(name), Tensor):
            stats = ActivationStats.of(cache[name])
        points.append(
            PointReport(
                name,
                hooks,
                _describe_conversion(point.hook_conversion),
                stats,
                fired,
                seconds,
                expected_to_fire=name not in not_expected,
            )
        )
    return HookReport(type(model).__name__, tuple(points), run is not None, cache is not None, compare)
