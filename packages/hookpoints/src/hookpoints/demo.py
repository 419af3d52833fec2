"""The main demo: cache, patch and report on the embedded TinyGPT.

Run with ``python -m hookpoints demo`` (or ``nox -s demo``).
"""

from __future__ import annotations

import torch

from .examples import TinyGPT, TinyGPTConfig
from .reporting import format_hook_report


def run_demo(layers: int = 2, head: int = 1, seed: int = 0) -> str:
    """Run the demo and return its printed text."""
    out: list[str] = []
    model = TinyGPT(TinyGPTConfig(n_layers=layers, seed=seed)).eval()
    tokens = torch.randint(0, model.cfg.d_vocab, (1, 12), generator=torch.Generator().manual_seed(seed))
    out.append(f"TinyGPT: {layers} layers, {len(model.hook_dict)} hook points, tokens {tuple(tokens.shape)}")

    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
    out.append(f"run_with_cache -> {cache!r}")
    z = cache["blocks.0.attn.hook_z"]
    out.append(f"blocks.0.attn.hook_z: shape {tuple(z.shape)} = [batch, pos, head, d_head]")

    def ablate_head(z: torch.Tensor, *, hook: object) -> torch.Tensor:
        z = z.clone()
        z[:, :, head] = 0.0
        return z

    with torch.no_grad():
        patched = model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_z", ablate_head)])
    diff = (patched - logits)[0, -1]
    out.append(
        f"zero-ablating head {head} of layer 0: last-position logits change by max |Δ| = "
        f"{diff.abs().max().item():.4f}, top token {logits[0, -1].argmax().item()} -> "
        f"{patched[0, -1].argmax().item()}"
    )

    handle = model.add_hook("blocks.0.hook_resid_post", ablate_head_probe, dir="fwd")
    out.append("")
    out.append("Hook report (one hook still attached):")
    out.append(format_hook_report(model, cache))
    handle.remove()
    return "\n".join(out)


def ablate_head_probe(resid: torch.Tensor, *, hook: object) -> None:
    """A read-only probe hook, left attached so the report shows an attached hook."""


def main() -> None:
    print(run_demo())
