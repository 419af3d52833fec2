"""Per-architecture tables: TransformerLens name -> attached hook point + conversion chain.

Attached Hugging Face models expose ``<module path>.hook_in`` / ``.hook_out``; these tables
say which of them, seen through which view, is each HookedTransformer hook (weight
processing off, i.e. ``fold_ln=False, center_writing_weights=False, center_unembed=False``):

- q / k / v of GPT-2 come from the fused ``c_attn`` output: ``select_chunk`` (a third) then
  ``split_heads``; Llama's from ``q_proj`` / ``k_proj`` / ``v_proj`` (before rotary, like
  TransformerLens's ``hook_q``), split into (key-value) heads;
- ``hook_z`` is the input of the output projection, split into heads;
- ``ln*.hook_normalized`` is TransformerLens's normalised value *before* the norm's own
  weight and bias; HF norms return it after, so the view undoes them (``sub`` bias, ``div``
  weight; exact when the weight is 1, as at initialisation, within float rounding otherwise).

Not provided: ``hook_attn_scores`` and ``hook_pattern``. HF computes them inside its
attention kernel (SDPA), where no module boundary exists to hook; exposing them would mean
switching the model to the eager attention implementation, which changes its numerics and
speed. ``hook_pos_embed`` of GPT-2 has shape ``[1, pos, d_model]`` (HF broadcasts it later;
TransformerLens repeats it over the batch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hookpoints.plugins import AliasRule


def _module(model: Any, path: str) -> Any:
    return model.get_submodule(path)


def _layernorm_view(model: Any, path: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    norm = _module(model, path)
    chain: list[tuple[str, dict[str, Any]]] = []
    if getattr(norm, "bias", None) is not None:
        chain.append(("sub", {"value": norm.bias}))
    chain.append(("div", {"value": norm.weight}))
    return tuple(chain)


def _heads(n: int) -> tuple[str, dict[str, Any]]:
    return ("split_heads", {"n_heads": n})


def gpt2_rules(model: Any) -> tuple[AliasRule, ...]:
    cfg = model.config
    t = "transformer." if hasattr(model, "transformer") else ""
    rules = [
        AliasRule("hook_embed", f"{t}wte.hook_out"),
        AliasRule("hook_pos_embed", f"{t}wpe.hook_out"),
        AliasRule("ln_final.hook_normalized", f"{t}ln_f.hook_out", _layernorm_view(model, f"{t}ln_f")),
    ]
    for layer in range(cfg.n_layer):
        h = f"{t}h.{layer}"
        b = f"blocks.{layer}"
        rules += [
            AliasRule(f"{b}.hook_resid_pre", f"{h}.hook_in"),
            AliasRule(f"{b}.ln1.hook_normalized", f"{h}.ln_1.hook_out", _layernorm_view(model, f"{h}.ln_1")),
            *(
                AliasRule(
                    f"{b}.attn.hook_{name}",
                    f"{h}.attn.c_attn.hook_out",
                    (("select_chunk", {"index": index, "chunks": 3, "dim": -1}), _heads(cfg.n_head)),
                    pos_dim=-3,
                )
                for index, name in enumerate("qkv")
            ),
            AliasRule(f"{b}.attn.hook_z", f"{h}.attn.c_proj.hook_in", (_heads(cfg.n_head),), pos_dim=-3),
            AliasRule(f"{b}.hook_attn_out", f"{h}.attn.hook_out"),
            AliasRule(f"{b}.hook_resid_mid", f"{h}.ln_2.hook_in"),
            AliasRule(f"{b}.ln2.hook_normalized", f"{h}.ln_2.hook_out", _layernorm_view(model, f"{h}.ln_2")),
            AliasRule(f"{b}.mlp.hook_pre", f"{h}.mlp.c_fc.hook_out"),
            AliasRule(f"{b}.mlp.hook_post", f"{h}.mlp.c_proj.hook_in"),
            AliasRule(f"{b}.hook_mlp_out", f"{h}.mlp.hook_out"),
            AliasRule(f"{b}.hook_resid_post", f"{h}.hook_out"),
        ]
    return tuple(rules)


def llama_rules(model: Any) -> tuple[AliasRule, ...]:
    cfg = model.config
    m = "model." if hasattr(model, "model") and hasattr(model.model, "layers") else ""
    n_heads = cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_heads
    rules = [
        AliasRule("hook_embed", f"{m}embed_tokens.hook_out"),
        AliasRule("ln_final.hook_normalized", f"{m}norm.hook_out", _layernorm_view(model, f"{m}norm")),
    ]
    for layer in range(cfg.num_hidden_layers):
        h = f"{m}layers.{layer}"
        b = f"blocks.{layer}"
        rules += [
            AliasRule(f"{b}.hook_resid_pre", f"{h}.hook_in"),
            AliasRule(
                f"{b}.ln1.hook_normalized",
                f"{h}.input_layernorm.hook_out",
                _layernorm_view(model, f"{h}.input_layernorm"),
            ),
            AliasRule(f"{b}.attn.hook_q", f"{h}.self_attn.q_proj.hook_out", (_heads(n_heads),), pos_dim=-3),
            AliasRule(f"{b}.attn.hook_k", f"{h}.self_attn.k_proj.hook_out", (_heads(n_kv),), pos_dim=-3),
            AliasRule(f"{b}.attn.hook_v", f"{h}.self_attn.v_proj.hook_out", (_heads(n_kv),), pos_dim=-3),
            AliasRule(f"{b}.attn.hook_z", f"{h}.self_attn.o_proj.hook_in", (_heads(n_heads),), pos_dim=-3),
            AliasRule(f"{b}.hook_attn_out", f"{h}.self_attn.hook_out"),
            AliasRule(f"{b}.hook_resid_mid", f"{h}.post_attention_layernorm.hook_in"),
            AliasRule(
                f"{b}.ln2.hook_normalized",
                f"{h}.post_attention_layernorm.hook_out",
                _layernorm_view(model, f"{h}.post_attention_layernorm"),
            ),
            AliasRule(f"{b}.mlp.hook_pre", f"{h}.mlp.gate_proj.hook_out"),
            AliasRule(f"{b}.mlp.hook_pre_linear", f"{h}.mlp.up_proj.hook_out"),
            AliasRule(f"{b}.mlp.hook_post", f"{h}.mlp.down_proj.hook_in"),
            AliasRule(f"{b}.hook_mlp_out", f"{h}.mlp.hook_out"),
            AliasRule(f"{b}.hook_resid_post", f"{h}.hook_out"),
        ]
    return tuple(rules)


ARCHITECTURES: dict[str, Callable[[Any], tuple[AliasRule, ...]]] = {
    "gpt2": gpt2_rules,
    "llama": llama_rules,
}


def rules_for(model: Any) -> tuple[AliasRule, ...]:
    """The rules for ``model`` (an HF model; its ``config.model_type`` picks the table)."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in ARCHITECTURES:
        raise ValueError(
            f"alias scheme 'transformerlens' has no table for {type(model).__name__} "
            f"(config.model_type={model_type!r}); known: {', '.join(sorted(ARCHITECTURES))}"
        )
    return ARCHITECTURES[model_type](model)
