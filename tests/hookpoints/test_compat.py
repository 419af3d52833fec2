"""TransformerLens-style code runs unchanged after swapping imports; moved names warn."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

import hookpoints


def test_tl_style_model_runs_after_changing_imports() -> None:
    # Written exactly as for transformer_lens (hook signature, add_hook returning nothing
    # used, list-based names_filter, hooks() context manager, reset_hooks).
    from hookpoints import HookedRootModule, HookPoint

    class SimpleModel(HookedRootModule):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.hook_pre = HookPoint()
            self.hook_post = HookPoint()
            self.setup()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.hook_post(self.linear(self.hook_pre(x)))

    model = SimpleModel()
    x = torch.randn(2, 4)
    store = {}

    def save(tensor: torch.Tensor, hook: HookPoint) -> None:  # `hook` positional-or-keyword, as in TL docs
        store[hook.name] = tensor

    model.add_hook("hook_pre", save)
    model(x)
    assert torch.equal(store["hook_pre"], x)
    model.reset_hooks()
    out, cache = model.run_with_cache(x, names_filter=["hook_post"])
    assert list(cache.keys()) == ["hook_post"] and torch.equal(cache["hook_post"], out.detach())
    with model.hooks(fwd_hooks=[("hook_post", lambda t, hook: t * 0)]):
        assert torch.equal(model(x), torch.zeros(2, 4))
    assert [h.hook for h in model.hook_post.fwd_hooks] == []
    for hp in model.hook_points():
        assert hp.fwd_hooks == [] and hp.bwd_hooks == [] and hp.ctx == {}
    assert model.is_caching is False and model.context_level == 0


def test_hook_points_module_path_and_deprecated_root_import() -> None:
    from hookpoints import hook_points

    assert hook_points.HookPoint is hookpoints.HookPoint
    with pytest.warns(DeprecationWarning, match="import it from hookpoints"):
        root = hook_points.HookedRootModule
    assert root is hookpoints.HookedRootModule
    with pytest.raises(AttributeError):
        hook_points.NoSuchThing


def test_moved_top_level_name_warns_and_resolves() -> None:
    with pytest.warns(DeprecationWarning, match="hookpoints.core.protocols.HookFunction"):
        proto = hookpoints.HookFunctionProtocol
    assert proto is hookpoints.HookFunction
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hookpoints.HookPoint is not None  # current names never warn
    with pytest.raises(AttributeError):
        hookpoints.does_not_exist


def test_deprecated_cache_helpers_warn_and_work() -> None:
    from .conftest import Toy

    toy = Toy()
    with pytest.warns(DeprecationWarning):
        cache = toy.cache_some(None, lambda n: n == "hook_in")
    toy(torch.ones(1, 3))
    assert list(cache) == ["hook_in"]


def test_import_is_light() -> None:
    code = (
        "import sys, hookpoints\n"
        "heavy = [m for m in ('hookpoints.examples', 'hookpoints.reports.render', 'hookpoints.demo', 'hookpoints.plugins', 'pluggy') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "hookpoints.TinyGPT\n"
        "assert 'hookpoints.examples' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
