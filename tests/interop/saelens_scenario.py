"""Everything the SAELens parity test compares, computed in one process.

``python saelens_scenario.py {transformer_lens|hookpoints} OUT`` runs SAELens's SAE classes,
its training SAE with the sparse hook point and ``HookedSAETransformer`` on TransformerLens
itself or, with ``hookpoints``, on hookpoints (``hookpoints.interop.transformer_lens``
installed before anything imports TransformerLens), and saves every tensor produced under
a descriptive key with ``torch.save``. Weights come from fixed seeds, so both runs see the
same models; ``test_saelens_parity.py`` compares the two files bit for bit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

BACKEND, OUT = sys.argv[1], sys.argv[2]
if BACKEND == "hookpoints":
    from hookpoints.interop import transformer_lens as shim

    shim.install()

import sae_lens  # noqa: E402
import transformer_lens  # noqa: E402
from sae_lens import SAE, HookedSAETransformer, TopKTrainingSAE, TopKTrainingSAEConfig  # noqa: E402
from sae_lens.saes.sae import TrainStepInput  # noqa: E402
from transformer_lens import HookedTransformerConfig  # noqa: E402

results: dict[str, Any] = {}


def keep(key: str, value: Any) -> None:
    """Record a tensor (detached, cloned), a sparse tensor (as dense + a flag), or a plain value."""
    if isinstance(value, Tensor):
        if value.is_sparse:
            results[key + "#sparse"] = True
            value = value.to_dense()
        results[key] = value.detach().clone()
    else:
        results[key] = value


def outcome(key: str, fn: Callable[[], Any]) -> bool:
    """Run ``fn``; record the exception type it raises (parity covers failures too)."""
    try:
        fn()
    except Exception as exc:
        results[key + "#raised"] = type(exc).__name__
        return False
    return True


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Non-trivial weights (SAELens initialises biases and thresholds to zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(module.named_parameters()):
            values = torch.randn(param.shape, generator=generator) * 0.3
            param.copy_(values.abs() * 0.2 if "threshold" in name else values)


def sae_config(architecture: str, hook_name: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "architecture": architecture,
        "d_in": 16,
        "d_sae": 48,
        "dtype": "float32",
        "device": "cpu",
        "metadata": {"hook_name": hook_name},
    }
    if architecture == "topk":
        config["k"] = 6
    return config


def standalone_saes() -> dict[str, SAE[Any]]:
    x = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1))
    saes = {}
    for seed, architecture in enumerate(["standard", "topk", "jumprelu", "gated"]):
        torch.manual_seed(seed)
        sae = SAE.from_dict(sae_config(architecture, "blocks.0.hook_resid_pre"))
        randomize(sae, 100 + seed)
        saes[architecture] = sae
        prefix = f"sae.{architecture}"
        keep(f"{prefix}.forward", sae(x))
        keep(f"{prefix}.encode", sae.encode(x))
        out, cache = sae.run_with_cache(x)
        keep(f"{prefix}.run_with_cache.out", out)
        for name in sorted(cache):
            keep(f"{prefix}.cache.{name}", cache[name])
        ablated = sae.run_with_hooks(
            x, fwd_hooks=[("hook_sae_acts_post", lambda t, hook: t * (torch.arange(t.shape[-1]) % 2))]
        )
        keep(f"{prefix}.ablated", ablated)
        grads: dict[str, Tensor] = {}

        def save_grad(g: Tensor, hook: Any, grads: dict[str, Tensor] = grads) -> None:
            grads[hook.name] = g.detach().clone()

        x_grad = x.clone().requires_grad_(True)
        out = sae.run_with_hooks(
            x_grad,
            bwd_hooks=[("hook_sae_acts_pre", save_grad), ("hook_sae_acts_post", save_grad)],
            reset_hooks_end=False,
        )
        (out**2).sum().backward()
        sae.reset_hooks()
        for name in sorted(grads):
            keep(f"{prefix}.grad.{name}", grads[name])
        keep(f"{prefix}.x_grad", x_grad.grad)
        sae.use_error_term = True
        keep(f"{prefix}.with_error_term", sae(x))
        sae.use_error_term = False
    return saes


def training_sae() -> None:
    x = torch.randn(8, 16, generator=torch.Generator().manual_seed(2))
    for sparse in (False, True):
        torch.manual_seed(7)
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=16, d_sae=48, k=6, use_sparse_activations=sparse))
        randomize(sae, 200)
        prefix = f"train.sparse={sparse}"
        keep(f"{prefix}.hook_point_class", type(sae.hook_sae_acts_post).__name__)
        step = sae.training_forward_pass(
            TrainStepInput(
                sae_in=x, coefficients={}, dead_neuron_mask=None, n_training_steps=0, is_logging_step=False
            )
        )
        keep(f"{prefix}.loss", step.loss)
        keep(f"{prefix}.feature_acts", step.feature_acts)
        if outcome(f"{prefix}.loss_backward", step.loss.backward):  # sparse: no CPU backward
            for name, param in sorted(sae.named_parameters()):
                keep(f"{prefix}.param_grad.{name}", param.grad)
        sae.zero_grad()
        seen: list[Tensor] = []
        with sae.hooks(fwd_hooks=[("hook_sae_acts_post", lambda t, hook, seen=seen: seen.append(t))]):
            out = sae(x)
        keep(f"{prefix}.hooked_out", out)
        keep(f"{prefix}.hooked_acts", seen[0])
        keep(f"{prefix}.unhooked_acts", sae.encode(x))
        _, cache = sae.run_with_cache(x, names_filter="hook_sae_acts_post")
        keep(f"{prefix}.cached_acts", cache["hook_sae_acts_post"])
        doubled = sae.run_with_hooks(x, fwd_hooks=[("hook_sae_acts_post", lambda t, hook: t * 2)])
        keep(f"{prefix}.doubled", doubled)
        grads: list[Tensor] = []
        x_grad = x.clone().requires_grad_(True)

        def hooked_backward(
            sae: TopKTrainingSAE = sae, x: Tensor = x_grad, grads: list[Tensor] = grads
        ) -> None:
            out = sae.run_with_hooks(
                x,
                bwd_hooks=[("hook_sae_acts_post", lambda g, hook: grads.append(g))],
                reset_hooks_end=False,
            )
            out.sum().backward()

        if outcome(f"{prefix}.hooked_backward", hooked_backward):  # sparse: TransformerLens raises
            keep(f"{prefix}.bwd_hook_grad", grads[0])
            keep(f"{prefix}.bwd_x_grad", x_grad.grad)
        sae.reset_hooks()


def hooked_sae_transformer(saes: dict[str, SAE[Any]]) -> None:
    torch.manual_seed(3)
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=16, d_head=4, n_heads=4, d_mlp=32, n_ctx=16, d_vocab=50, act_fn="gelu"
    )
    model = HookedSAETransformer(cfg)
    model.eval()
    tokens = torch.randint(0, 50, (2, 7), generator=torch.Generator().manual_seed(4))
    keep("model.logits", model(tokens))
    for architecture, sae in saes.items():
        prefix = f"model.{architecture}"
        keep(f"{prefix}.run_with_saes", model.run_with_saes(tokens, saes=[sae]))
        logits, cache = model.run_with_cache_with_saes(tokens, saes=[sae])
        keep(f"{prefix}.cache.logits", logits)
        keep(f"{prefix}.cache.keys", sorted(cache.keys()))
        for name in sorted(cache.keys()):
            keep(f"{prefix}.cache.{name}", cache[name])
        zero_feature: Callable[..., Tensor] = lambda t, hook: t * (torch.arange(t.shape[-1]) != 3)  # noqa: E731
        keep(
            f"{prefix}.run_with_hooks_with_saes",
            model.run_with_hooks_with_saes(
                tokens,
                saes=[sae],
                fwd_hooks=[("blocks.0.hook_resid_pre.hook_sae_acts_post", zero_feature)],
            ),
        )
        model.add_sae(sae, use_error_term=True)
        keep(f"{prefix}.error_term_logits", model(tokens))
        keep(f"{prefix}.acts_to_saes", sorted(model.acts_to_saes))
        grads: dict[str, Tensor] = {}

        def save_grad(g: Tensor, hook: Any, grads: dict[str, Tensor] = grads) -> None:
            grads[hook.name] = g.detach().clone()

        loss = model.run_with_hooks(
            tokens,
            return_type="loss",
            bwd_hooks=[
                ("blocks.0.hook_resid_pre.hook_sae_acts_post", save_grad),
                ("blocks.1.hook_resid_post", save_grad),
            ],
            reset_hooks_end=False,
        )
        loss.backward()
        model.reset_hooks()
        keep(f"{prefix}.loss", loss)
        for name in sorted(grads):
            keep(f"{prefix}.grad.{name}", grads[name])
        model.reset_saes()
        model.zero_grad()
        keep(f"{prefix}.after_reset", model(tokens))
        keep(f"{prefix}.hooks_left", {n: len(h) for n, h in model.list_hooks().items()})


standalone = standalone_saes()
training_sae()
hooked_sae_transformer(standalone)
import hookpoints  # noqa: E402

results["backend.hook_point_is_hookpoints"] = transformer_lens.hook_points.HookPoint is hookpoints.HookPoint
results["backend.sae_lens_version"] = sae_lens.__version__
torch.save(results, OUT)
