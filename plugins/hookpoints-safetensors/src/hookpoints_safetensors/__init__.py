"""hookpoints-safetensors: capture activations to sharded safetensors files, read them lazily.

Never pickles: tensors are safetensors, metadata is JSON.
"""

from __future__ import annotations

from hookpoints.plugins import lazy_exports

__version__ = "0.1.0"

# Public names, each imported from its module on first access: hookpoints imports this
# package when it scans its plugins, which must not load the heavy dependencies.
_EXPORTS = {
    "CaptureError": ".errors",
    "CorruptCaptureError": ".errors",
    "IncompleteCaptureError": ".errors",
    "UnsafeCaptureError": ".errors",
    "CaptureReader": ".reader",
    "load_cache": ".reader",
    "open_capture": ".reader",
    "save_cache": ".reader",
    "SafetensorsSink": ".sink",
}

__all__ = [
    "CaptureError",
    "CaptureReader",
    "CorruptCaptureError",
    "IncompleteCaptureError",
    "SafetensorsSink",
    "UnsafeCaptureError",
    "load_cache",
    "open_capture",
    "save_cache",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
