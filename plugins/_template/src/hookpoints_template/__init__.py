"""hookpoints-template: a plugin contributing one conversion step, alias scheme, reporter and sink."""

__version__ = "0.1.0"
