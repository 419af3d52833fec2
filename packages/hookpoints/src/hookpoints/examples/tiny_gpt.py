"""``TinyGPT``: a small GPT-style transformer with a hook point at every activation.

The hook names follow TransformerLens's HookedTransformer (``blocks.0.attn.hook_z``, ...), so
code and habits carry over. Weights are random with a fixed seed: no download is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.hook_point import HookPoint
from ..core.root import HookedRootModule


@dataclass(frozen=True)
class TinyGPTConfig:
    n_layers: int = 4
    d_model: int = 256
    n_heads: int = 4
    d_head: int = 64
    d_mlp: int = 1024
    d_vocab: int = 1000
    n_ctx: int = 256
    seed: int = 0


class LayerNorm(nn.Module):
    def __init__(self, cfg: TinyGPTConfig) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.b = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_scale = HookPoint()  # [batch, pos, 1]
        self.hook_normalized = HookPoint()  # [batch, pos, d_model]

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt())
        return self.hook_normalized(x / scale) * self.w + self.b


class Attention(nn.Module):
    mask: Tensor

    def __init__(self, cfg: TinyGPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.W_Q = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_model, cfg.d_head))
        self.W_K = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_model, cfg.d_head))
        self.W_V = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_model, cfg.d_head))
        self.W_O = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_head, cfg.d_model))
        self.b_Q = nn.Parameter(torch.zeros(cfg.n_heads, cfg.d_head))
        self.b_K = nn.Parameter(torch.zeros(cfg.n_heads, cfg.d_head))
        self.b_V = nn.Parameter(torch.zeros(cfg.n_heads, cfg.d_head))
        self.b_O = nn.Parameter(torch.zeros(cfg.d_model))
        self.register_buffer(
            "mask", torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool)), persistent=False
        )
        self.hook_q = HookPoint(pos_dim=-3)  # [batch, pos, head, d_head]
        self.hook_k = HookPoint(pos_dim=-3)
        self.hook_v = HookPoint(pos_dim=-3)
        self.hook_attn_scores = HookPoint()  # [batch, head, query_pos, key_pos]
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint(pos_dim=-3)  # [batch, pos, head, d_head]

    def forward(self, x: Tensor) -> Tensor:
        q = self.hook_q(torch.einsum("bpd,hde->bphe", x, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpd,hde->bphe", x, self.W_K) + self.b_K)
        v = self.hook_v(torch.einsum("bpd,hde->bphe", x, self.W_V) + self.b_V)
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        n = x.shape[1]
        scores = self.hook_attn_scores(scores.masked_fill(~self.mask[:n, :n], float("-inf")))
        pattern = self.hook_pattern(scores.softmax(-1))
        z = self.hook_z(torch.einsum("bhqk,bkhe->bqhe", pattern, v))
        return torch.einsum("bqhe,hed->bqd", z, self.W_O) + self.b_O


class MLP(nn.Module):
    def __init__(self, cfg: TinyGPTConfig) -> None:
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Tensor) -> Tensor:
        post = self.hook_post(F.gelu(self.hook_pre(x @ self.W_in + self.b_in)))
        return post @ self.W_out + self.b_out


class Block(nn.Module):
    def __init__(self, cfg: TinyGPTConfig) -> None:
        super().__init__()
        # Registration order = forward order, so reports and hook_dict read top to bottom.
        self.hook_resid_pre = HookPoint()
        self.ln1 = LayerNorm(cfg)
        self.attn = Attention(cfg)
        self.hook_attn_out = HookPoint()
        self.hook_resid_mid = HookPoint()
        self.ln2 = LayerNorm(cfg)
        self.mlp = MLP(cfg)
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, resid: Tensor) -> Tensor:
        resid = self.hook_resid_pre(resid)
        attn_out: Tensor = self.attn(self.ln1(resid))
        resid = self.hook_resid_mid(resid + self.hook_attn_out(attn_out))
        mlp_out: Tensor = self.mlp(self.ln2(resid))
        return self.hook_resid_post(resid + self.hook_mlp_out(mlp_out))


class TinyGPT(HookedRootModule):
    """A GPT-2-like decoder with TransformerLens-style hook names.

    ``forward(tokens, return_type="logits" | "loss")``; the loss is next-token cross-entropy.
    """

    def __init__(self, cfg: TinyGPTConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or TinyGPTConfig()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))
        self.hook_embed = HookPoint()
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = LayerNorm(cfg)
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab))
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab))
        generator = torch.Generator().manual_seed(cfg.seed)
        for name, param in self.named_parameters():
            if name.split(".")[-1].startswith("W_"):
                with torch.no_grad():
                    param.normal_(0.0, 0.02, generator=generator)
        self.setup()

    def forward(self, tokens: Tensor, return_type: str = "logits") -> Tensor:
        if tokens.ndim == 1:
            tokens = tokens[None]
        n = tokens.shape[1]
        if n > self.cfg.n_ctx:
            raise ValueError(f"sequence length {n} exceeds n_ctx={self.cfg.n_ctx}")
        resid = self.hook_embed(self.W_E[tokens]) + self.hook_pos_embed(
            self.W_pos[:n].expand(tokens.shape[0], n, -1)
        )
        for block in self.blocks:
            resid = block(resid)
        normalized: Tensor = self.ln_final(resid)
        logits = normalized @ self.W_U + self.b_U
        if return_type == "logits":
            return logits
        if return_type == "loss":
            return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
        raise ValueError(f"return_type must be 'logits' or 'loss'; got {return_type!r}")
