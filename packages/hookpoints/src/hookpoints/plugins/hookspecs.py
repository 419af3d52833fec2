"""The hookspecs plugins implement (pluggy project ``hookpoints``, entry-point group ``hookpoints``).

A plugin is any module or object with functions decorated by :data:`hookimpl` and named
after these specs; list it under ``[project.entry-points.hookpoints]`` in its
``pyproject.toml``. Each hook returns an iterable of frozen descriptors
(:mod:`hookpoints.descriptors`). The plugin host calls each plugin's implementation on its
own, so one broken plugin never hides the others.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from ..extension_points import AliasScheme, CacheFormat, CacheSink, ConversionStep, Reporter

PROJECT = "hookpoints"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hookpoints_conversion_steps() -> Iterable[ConversionStep]:
    """Contribute tensor conversion steps, selectable by name in ``enable_reshape``.

    Example::

        import torch
        from hookpoints import hookimpl
        from hookpoints.plugins import ConversionStep


        class Scale:
            def __init__(self, factor: float = 2.0) -> None:
                self.factor = factor

            def convert(self, x: torch.Tensor) -> torch.Tensor:
                return x * self.factor

            def revert(self, x: torch.Tensor) -> torch.Tensor:
                return x / self.factor


        @hookimpl
        def hookpoints_conversion_steps():
            yield ConversionStep("scale", "multiply by a factor", Scale)
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def hookpoints_alias_schemes() -> Iterable[AliasScheme]:
    """Contribute alias schemes: other vocabularies of hook-point names.

    Example::

        from hookpoints import hookimpl
        from hookpoints.plugins import AliasRule, AliasScheme


        @hookimpl
        def hookpoints_alias_schemes():
            yield AliasScheme(
                "short",
                "resid_{layer} for blocks.{layer}.hook_resid_post",
                rules=(AliasRule("resid_{layer}", "blocks.{layer}.hook_resid_post"),),
            )
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def hookpoints_reporters() -> Iterable[Reporter]:
    """Contribute reporters: renderings of a :class:`~hookpoints.reports.data.HookReport`.

    A reporter renders data the core collected (inventory, activations, comparison); it
    never walks the model. Lines must fit ``width``; colour only when ``color`` is true.

    Example::

        from hookpoints import hookimpl
        from hookpoints.plugins import Reporter


        class CountReporter:
            def render(self, report, *, width=100, color=False):
                return f"{len(report.points)} hook points"[:width]


        @hookimpl
        def hookpoints_reporters():
            yield Reporter("count", "how many hook points", CountReporter, priority=-5)
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def hookpoints_cache_sinks() -> Iterable[CacheSink]:
    """Contribute cache sinks: destinations for captured activations, selected by name.

    A sink receives ``write(name, tensor, batch=i)`` for each captured activation,
    ``end_batch(i)`` after each batch and ``finalize()`` once; ``finalize`` returns the result.

    Example::

        from hookpoints import hookimpl
        from hookpoints.plugins import CacheSink


        class CountingSink:
            def __init__(self):
                self.counts = {}

            def write(self, name, tensor, *, batch):
                self.counts[name] = self.counts.get(name, 0) + tensor.shape[0]

            def end_batch(self, batch):
                pass

            def finalize(self):
                return self.counts


        @hookimpl
        def hookpoints_cache_sinks():
            yield CacheSink("count_rows", "rows seen per point", CountingSink)
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def hookpoints_cache_formats() -> Iterable[CacheFormat]:
    """Contribute cache file formats, for ``ActivationCache.save(path, format=...)`` and ``load``.

    ``save(cache, path)`` writes every tensor and the cache's flags and returns the path;
    ``load(path)`` returns the ActivationCache. A format must never pickle.

    Example::

        import json, torch
        from hookpoints import ActivationCache, hookimpl
        from hookpoints.plugins import CacheFormat


        def save(cache, path):
            with open(path, "w") as f:
                json.dump({k: v.tolist() for k, v in cache.items()}, f)
            return path


        def load(path):
            with open(path) as f:
                return ActivationCache({k: torch.tensor(v) for k, v in json.load(f).items()})


        @hookimpl
        def hookpoints_cache_formats():
            yield CacheFormat("json", "tensors as nested lists", save, load, suffixes=(".json",))
    """
    raise NotImplementedError  # pragma: no cover


HOOKSPEC_NAMES = (
    "hookpoints_conversion_steps",
    "hookpoints_alias_schemes",
    "hookpoints_reporters",
    "hookpoints_cache_sinks",
    "hookpoints_cache_formats",
)
