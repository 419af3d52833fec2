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
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return batches
    if total is None and isinstance(batches, Sized):
        total = len(batches)
    try:
        from rich.progress import track
    except ImportError:
        return batches
    tracked: Iterable[Any] = track(batches, description="capturing", total=total, transient=True)
    return tracked


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
    if not (callable(getattr(model, "hooks", None)) and isinstance(getattr(model, "hook_dict", None), dict)):
        raise TypeError(
            f"capture() needs a model with hook points; {type(model).__name__} has none: "
            "wrap it with hookpoints.attach(model) (any nn.Module) and capture the attached model"
        )
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
