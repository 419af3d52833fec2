"""The version of the hookpoints distribution (the one place it is written; hatch reads it)."""

__version__ = "0.1.0"
