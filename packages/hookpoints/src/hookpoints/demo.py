"""The main demo: cache, patch, compare and report on the embedded TinyGPT.

Run with ``python -m hookpoints demo`` (or ``nox -s demo``). It ends with a hook report from
the default reporter: ``rich`` when hookpoints-rich is installed, plain ``text`` otherwise.
"""

from __future__ import annotations

import torch

from .examples import TinyGPT, TinyGPTConfig
from .reports.recording import record
from .reports.render import report


def run_demo(
    layers: int = 2,
    head: int = 1,
    seed: int = 0,
    reporter: str | None = None,
    width: int | None = None,
    color: bool = False,
) -> str:
    """Run the demo and return its text (the narrative, then the report)."""
    narrative, report_text = demo_parts(layers, head, seed, reporter, width, color)
    return f"{narrative}\n{report_text}"


def demo_parts(
    layers: int = 2,
    head: int = 1,
    seed: int = 0,
    reporter: str | None = None,
    width: int | None = None,
    color: bool = False,
) -> tuple[str, str]:
    """Run the demo; return its narrative and the report apart (the CLI may write the report to a file)."""
    out: list[str] = []
    model = TinyGPT(TinyGPTConfig(n_layers=layers, seed=seed)).eval()
    tokens = torch.randint(0, model.cfg.d_vocab, (1, 12), generator=torch.Generator().manual_seed(seed))
    out.append(f"TinyGPT: {layers} layers, {len(model.hook_dict)} hook points, tokens {tuple(tokens.shape)}")

    with torch.no_grad():
        logits, clean = model.run_with_cache(tokens)
    out.append(f"run_with_cache -> {clean!r}")
    z = clean["blocks.0.attn.hook_z"]
    out.append(f"blocks.0.attn.hook_z: shape {tuple(z.shape)} = [batch, pos, head, d_head]")

    def ablate_head(z: torch.Tensor, *, hook: object) -> torch.Tensor:
        z = z.clone()
        z[:, :, head] = 0.0
        return z

    with torch.no_grad(), model.hooks(fwd_hooks=[("blocks.0.attn.hook_z", ablate_head)]):
        patched_logits, patched = model.run_with_cache(tokens)
        with record(model) as run:  # fired counts, time in hooks, statistics
            model(tokens)
    diff = (patched_logits - logits)[0, -1]
    out.append(
        f"zero-ablating head {head} of layer 0: last-position logits change by max |Δ| = "
        f"{diff.abs().max().item():.4f}, top token {logits[0, -1].argmax().item()} -> "
        f"{patched_logits[0, -1].argmax().item()}"
    )
    out.append("")
    out.append("Hook report (recorded ablated run, compared with the clean cache):")
    with model.hooks(fwd_hooks=[("blocks.0.attn.hook_z", ablate_head)]):
        report_text = report(
            model, run=run, compare=(clean, patched), reporter=reporter, width=width, color=color
        )
    return "\n".join(out), report_text
