"""``capture``: run a model over many batches and send watched activations to a sink.

Dataset-scale caching (probe datasets, SAE training data, mean-ablation values) rarely wants
every activation of every batch in memory. ``capture`` attaches one owned hook scope for the
whole loop, tells the sink which batch each activation belongs to, skips batches a resumable
sink already holds, shows a progress bar on a terminal (rich when installed), and returns
what the sink's ``finalize`` returns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import TYPE_CHECKING, Any

import torch

from ..core.names import NamesFilter, normalize_names_filter
from ..extension_points import ActivationSink
from ..registries import SINKS

if TYPE_CHECKING:
    from ..core.root import HookedRootModule


def _progress(batches: Iterable[Any], show: bool | None, total: int | None) -> Iterable[Any]:
    """``batches``, showing a progress bar on stderr: count, rate and time left when ``total``
    is known (given, or the input's ``len()``), count and rate otherwise. rich's when installed,
    else one line redrawn in place.
    """
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return batches
    if total is None and isinstance(batches, Sized):
        total = len(batches)
    try:
        from rich import progress as rp
    except ImportError:
        return _plain_progress(batches, total)
    columns: list[Any] = [
        rp.TextColumn("capturing"),
        rp.BarColumn() if total else rp.SpinnerColumn(),
        rp.MofNCompleteColumn() if total else rp.TextColumn("{task.completed} batches"),
        rp.TextColumn("{task.fields[rate]}"),
        rp.TimeRemainingColumn() if total else rp.TimeElapsedColumn(),
    ]
    return _rich_progress(batches, total, columns)


def _rate(done: int, seconds: float) -> str:
    return f"{done / seconds:.2f} batch/s" if seconds > 0 and done else "- batch/s"


def _rich_progress(batches: Iterable[Any], total: int | None, columns: list[Any]) -> Iterator[Any]:
    import time

    from rich.progress import Progress

    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("capturing", total=total, rate="- batch/s")
        start = time.perf_counter()
        for done, batch in enumerate(batches, 1):
            yield batch
            bar.update(task, completed=done, rate=_rate(done, time.perf_counter() - start))


def _plain_progress(batches: Iterable[Any], total: int | None) -> Iterator[Any]:
    """Without rich: ``capturing 12/100  3.40 batch/s  ETA 0:00:26`` redrawn on stderr."""
    import time

    start = time.perf_counter()
    for done, batch in enumerate(batches, 1):
        yield batch
        seconds = time.perf_counter() - start
        line = f"capturing {done}/{total}" if total else f"capturing {done} batches"
        line += f"  {_rate(done, seconds)}"
        if total and seconds > 0:
            left = int((total - done) * seconds / done)
            line += f"  ETA {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"
        sys.stderr.write("\r" + line)
        sys.stderr.flush()
    sys.stderr.write("\n")


def _call(model: Any, batch: Any) -> Any:
    if isinstance(batch, tuple):
        return model(*batch)
    if isinstance(batch, Mapping):
        return model(**batch)
    return model(batch)


def capture(
    model: HookedRootModule,
    batches: Iterable[Any],
    names_filter: NamesFilter = None,
    sink: str | ActivationSink = "memory",
    *,
    forward: Callable[[Any, Any], Any] | None = None,
    progress: bool | None = None,
    total: int | None = None,
    grad: bool = False,
    **sink_params: Any,
) -> Any:
    """Run ``model`` over ``batches`` and return what the sink collected.

    Args:
        batches: Inputs; a tuple is unpacked as positional arguments, a mapping as keywords.
        names_filter: Which hook points to capture (name, names, predicate or None = all).
        sink: A sink name (``memory``, ``cpu``, ``reduce``, ``callback``, plugins' ...) built with
            ``sink_params``, or a sink object.
        forward: ``forward(model, batch)`` to call instead of ``model(batch)``.
        progress: Show a progress bar (default: when stderr is a terminal).
        grad: Run with autograd enabled (default: under ``torch.no_grad()``).

    Batches listed in the sink's ``completed_batches`` (a resumed disk capture) are skipped
    without running the model. ``batches`` that yield nothing (an empty list, an exhausted
    generator) are a ``ValueError``, not an empty result; a model without hook points is a
    ``TypeError`` saying to ``attach()`` it.
    """
    from ..core.root import require_hooked_root

    require_hooked_root(model, "capture()")
    if isinstance(batches, Sized) and len(batches) == 0:
        raise ValueError(_NO_BATCHES.format(what=f"an empty {type(batches).__name__}"))
    target_points = (lambda name: True) if names_filter is None else names_filter
    normalize_names_filter(target_points)  # a bad names_filter is refused before the sink is built
    target = SINKS.resolve(sink, sink_params)
    done = set(getattr(target, "completed_batches", ()) or ())
    current = [0]

    def save(tensor: Any, *, hook: Any) -> None:
        target.write(hook.name, tensor, batch=current[0])

    run = forward or _call
    seen = 0
    with model.hooks(fwd_hooks=[(target_points, save)]), torch.set_grad_enabled(grad):
        for index, batch in enumerate(_progress(batches, progress, total)):
            seen += 1
            if index in done:
                continue
            current[0] = index
            run(model, batch)
            target.end_batch(index)
    if not seen:
        raise ValueError(_NO_BATCHES.format(what=f"a {type(batches).__name__} that yielded nothing"))
    return target.finalize()


_NO_BATCHES = (
    "capture() got no batches ({what}): nothing was run and the sink was not finalized; "
    "pass an iterable of inputs (an exhausted generator or DataLoader gives nothing the second time)"
)


def iter_batches(tensor: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Split a tensor of inputs into batches along dim 0 (a convenience for ``capture``)."""
    for start in range(0, tensor.shape[0], batch_size):
        yield tensor[start : start + batch_size]
