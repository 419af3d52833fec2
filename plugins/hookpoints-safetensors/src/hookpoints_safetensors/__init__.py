"""hookpoints-safetensors: capture activations to sharded safetensors files, read them lazily.

Never pickles: tensors are safetensors, metadata is JSON.
"""

from .errors import CaptureError, CorruptCaptureError, IncompleteCaptureError
from .reader import CaptureReader, load_cache, open_capture, save_cache
from .sink import SafetensorsSink

__all__ = [
    "CaptureError",
    "CaptureReader",
    "CorruptCaptureError",
    "IncompleteCaptureError",
    "SafetensorsSink",
    "load_cache",
    "open_capture",
    "save_cache",
]
__version__ = "0.1.0"
