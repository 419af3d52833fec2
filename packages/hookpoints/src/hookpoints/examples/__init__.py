"""Small models written with hook points, for demos, tests and benchmarks."""

from .tiny_gpt import TinyGPT, TinyGPTConfig

__all__ = ["TinyGPT", "TinyGPTConfig"]
