"""``ActivationCache``: what ``run_with_cache`` returns.

A ``dict`` from hook name to tensor (what TransformerLens's ``run_with_cache`` returns, so
TransformerLens code and its runtime type checks accept it) with ``to(device)``,
``remove_batch_dim()`` and a repr that says how much memory the cache holds. It keeps only
a weak reference to the model: a cache kept for analysis must not keep a large model alive.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import HookNameError


def format_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``: sizes in caches' reprs and in reports."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


#: TransformerLens's ``get_act_name``: the block submodule a short name lives in.
_TL_SUBMODULE = {
    **dict.fromkeys(("q", "k", "v", "z", "pattern", "attn_scores", "result", "rot_q", "rot_k"), "attn"),
    **dict.fromkeys(("pre", "post", "pre_linear"), "mlp"),
}


def _tl_key_name(key: tuple[Any, ...]) -> str:
    """The hook name TransformerLens's ``cache[("resid_post", 0)]`` / ``("q", 1, "attn")`` means."""
    name, *rest = key
    layer = next((r for r in rest if isinstance(r, int)), None)
    sub = next((r for r in rest if isinstance(r, str)), _TL_SUBMODULE.get(str(name)))
    full = f"hook_{name}" if not str(name).startswith("hook_") else str(name)
    if sub is not None:
        full = f"{sub}.{full}"
    return f"blocks.{layer}.{full}" if layer is not None else full


class ActivationCache(dict[str, Tensor]):
    """Cached activations keyed by hook name (``<name>_grad`` for gradients).

    A ``dict`` (TransformerLens code passes what ``run_with_cache`` returns to its own
    ``ActivationCache(cache_dict: Dict[str, Tensor], ...)``, which runtime type checks hold to
    ``dict``), with ``to(device)``, ``remove_batch_dim()``, a repr that says how much memory
    it holds, and close matches for an unknown key.

    Args:
        cache_dict: The name -> tensor items to start with (copied into the cache).
        model: The model the activations came from; held weakly (see :attr:`model`).
        has_batch_dim: Whether tensors still have their leading batch dimension.
    """

    def __init__(
        self,
        cache_dict: Mapping[str, Tensor] | None = None,
        model: nn.Module | None = None,
        has_batch_dim: bool = True,
    ) -> None:
        super().__init__(() if cache_dict is None else cache_dict)
        self._model_ref = weakref.ref(model) if model is not None else None
        self.has_batch_dim = has_batch_dim

    @property
    def cache_dict(self) -> dict[str, Tensor]:
        """The cache itself (TransformerLens's ``ActivationCache.cache_dict``)."""
        return self

    @property
    def model(self) -> nn.Module | None:
        """The source model, or ``None`` if it was never given or has been garbage-collected."""
        return self._model_ref() if self._model_ref is not None else None

    def __missing__(self, key: object) -> Tensor:
        if isinstance(key, tuple) and key and isinstance(key[0], str):  # TL's ("resid_post", 0)
            name = _tl_key_name(key)
            if dict.__contains__(self, name):
                return dict.__getitem__(self, name)
            raise HookNameError(name, self, what=f"cached activation for {key!r}, i.e.")
        raise HookNameError(key if isinstance(key, str) else repr(key), self, what="cached activation")

    @property
    def total_bytes(self) -> int:
        """Bytes held by the cached tensors (views of one storage counted per tensor)."""
        return sum(t.numel() * t.element_size() for t in self.values() if isinstance(t, Tensor))

    def to(self, device: str | torch.device, move_model: bool = False) -> ActivationCache:
        """Move every cached tensor to ``device`` in place and return the cache.

        ``move_model`` is accepted for TransformerLens compatibility; moving the model from a
        cache is deprecated there and refused here (move the model yourself).
        """
        if move_model:
            raise ValueError("ActivationCache.to(move_model=True) is not supported: call model.to(device)")
        for key, value in self.items():
            self[key] = value.to(device)
        return self

    def remove_batch_dim(self) -> ActivationCache:
        """Drop the leading batch dimension of every tensor (each must have batch size 1)."""
        if not self.has_batch_dim:
            return self
        for key, value in self.items():
            if value.ndim == 0 or value.shape[0] != 1:
                raise ValueError(
                    f"remove_batch_dim needs batch size 1; {key!r} has shape {tuple(value.shape)}"
                )
        for key, value in self.items():
            self[key] = value[0]
        self.has_batch_dim = False
        return self

    def __repr__(self) -> str:
        names = list(self)
        shown = ", ".join(repr(n) for n in names[:4]) + (", …" if len(names) > 4 else "")
        return f"ActivationCache({len(names)} activations, {format_bytes(self.total_bytes)}: {shown})"

    def _repr_html_(self) -> str:
        """Jupyter's view: one row per activation (name, shape, dtype, device, size), 50 at most."""
        from html import escape

        rows = "".join(
            f"<tr><td><code>{escape(name)}</code></td><td>{'x'.join(map(str, t.shape)) or 'scalar'}</td>"
            f"<td>{escape(str(t.dtype).removeprefix('torch.'))}</td><td>{escape(str(t.device))}</td>"
            f"<td style='text-align:right'>{format_bytes(t.element_size() * t.nelement())}</td></tr>"
            for name, t in list(self.items())[:50]
        )
        more = f"<tr><td colspan='5'>… {len(self) - 50} more</td></tr>" if len(self) > 50 else ""
        return (
            f"<table><caption style='text-align:left'>ActivationCache: {len(self)} activations, "
            f"{format_bytes(self.total_bytes)}</caption><thead><tr><th>name</th><th>shape</th>"
            f"<th>dtype</th><th>device</th><th>size</th></tr></thead><tbody>{rows}{more}</tbody></table>"
        )

    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write this cache to ``path`` in a cache format (default: by suffix, else safetensors).

        Formats come from plugins (``hookpoints-safetensors`` adds ``safetensors``); none pickles.
        """
        from ..registries import CACHE_FORMATS

        return Path(CACHE_FORMATS.for_path(path, format).save_cache(self, path))

    @classmethod
    def load(cls, path: str | Path, format: str | None = None) -> ActivationCache:
        """Read a cache written by :meth:`save` (tensors on the CPU; no pickle involved)."""
        from ..registries import CACHE_FORMATS

        loaded: ActivationCache = CACHE_FORMATS.for_path(path, format).load_cache(path)
        return loaded

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model_ref"] = None  # a weak reference cannot be pickled; the model is not kept
        return state
