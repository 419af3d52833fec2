"""hookpoints-template: a plugin contributing one conversion step, alias scheme and reporter."""

__version__ = "0.1.0"
