"""SAELens gives bit-for-bit TransformerLens's results with hookpoints underneath.

``saelens_scenario.py`` runs SAELens's SAEs (standard, top-k, jumprelu, gated, built with
``SAE.from_dict``), its top-k training SAE with the sparse hook point, and
``HookedSAETransformer`` (``add_sae``, ``run_with_cache_with_saes``,
``run_with_hooks_with_saes``, backward hooks, the error term, ``reset_saes``) once on
TransformerLens and once on hookpoints, each in a fresh process; every tensor must be equal.
Runs in ``nox -s tl-suite``, which installs SAELens and TransformerLens 3.9.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

SCENARIO = Path(__file__).with_name("saelens_scenario.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for backend in ("transformer_lens", "hookpoints"):
        path = tmp_path_factory.mktemp(backend) / "results.pt"
        subprocess.run(
            [sys.executable, "-W", "ignore", str(SCENARIO), backend, str(path)], check=True, timeout=600
        )
        out[backend] = torch.load(path, weights_only=False)
    return out


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a, b)
        )
    return bool(a == b)


def test_each_run_used_its_backend(runs: dict[str, dict[str, Any]]) -> None:
    assert runs["transformer_lens"]["backend.hook_point_is_hookpoints"] is False
    assert runs["hookpoints"]["backend.hook_point_is_hookpoints"] is True


# TransformerLens's full module backward hook cannot wrap a sparse input (torch has no view
# for sparse tensors), so a backward hook on the sparse hook point raises there; hookpoints
# hooks the dense output and gives the gradients (checked against the dense SAE below).
_ONLY_HOOKPOINTS_SUCCEEDS = {"train.sparse=True.hooked_backward#raised"}
_ONLY_HOOKPOINTS_COMPUTES = {"train.sparse=True.bwd_hook_grad", "train.sparse=True.bwd_x_grad"}


def test_every_result_is_bit_equal(runs: dict[str, dict[str, Any]]) -> None:
    tl, hp = runs["transformer_lens"], runs["hookpoints"]
    assert len(tl) > 250  # the scenario really ran
    assert set(tl) - set(hp) == _ONLY_HOOKPOINTS_SUCCEEDS
    assert set(hp) - set(tl) == _ONLY_HOOKPOINTS_COMPUTES
    different = [k for k in tl if k in hp and not k.startswith("backend.") and not _equal(tl[k], hp[k])]
    assert different == []


def test_sparse_hook_point_backward_matches_the_dense_sae(runs: dict[str, dict[str, Any]]) -> None:
    hp = runs["hookpoints"]
    assert hp["train.sparse=True.hook_point_class"] == "SparseHookPoint"
    assert hp["train.sparse=True.feature_acts#sparse"] is True  # unhooked: the forward stays sparse
    assert "train.sparse=True.hooked_acts#sparse" not in hp  # hooked: densified, as in TransformerLens
    for key in ("bwd_hook_grad", "bwd_x_grad"):
        assert torch.allclose(hp[f"train.sparse=True.{key}"], hp[f"train.sparse=False.{key}"], atol=1e-6)
