"""Errors that name the file at fault."""

from __future__ import annotations


class CaptureError(RuntimeError):
    """A capture on disk cannot be used as asked."""


class IncompleteCaptureError(CaptureError):
    """The capture was interrupted (its manifest is not marked complete)."""


class CorruptCaptureError(CaptureError):
    """A shard or the manifest is truncated, corrupted or does not match the other."""


class UnsafeCaptureError(CorruptCaptureError, ValueError):
    """A manifest names a file outside its capture folder; it is refused, never followed."""
