"""Dataset-scale capture: run a model over many batches and send activations to a sink.

``loop`` runs the batches (:func:`capture`); ``sinks`` holds the core's sinks (memory, cpu
offload, reduce, callback) and the sink registry's front door (``hookpoints.capturing.sinks``,
also ``hookpoints.capturing.sinks``).
"""

from __future__ import annotations

from . import sinks
from .loop import capture, iter_batches

__all__ = ["capture", "iter_batches", "sinks"]
