"""Cache sinks and capture(): every sink agrees with the memory sink; reduce is exact."""

from __future__ import annotations

import pytest
import torch

import hookpoints
from hookpoints import capture, iter_batches
from hookpoints.capturing.sinks import ReduceSink, RunningStats
from hookpoints.examples import TinyGPT
from hookpoints.testing import check_cache_sink

from .conftest import SMALL

NAMES = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.0.attn.hook_z"]


@pytest.fixture
def data() -> torch.Tensor:
    return torch.randint(0, SMALL.d_vocab, (10, 6), generator=torch.Generator().manual_seed(3))


def reference(model: TinyGPT, data: torch.Tensor, batch_size: int | None = None) -> dict[str, torch.Tensor]:
    """Activations of ``data``, run in batches of ``batch_size`` (default: one run) and joined.

    float32 matmuls may round differently at different batch sizes (BLAS picks kernels by
    shape), so a test comparing to float64 rounding runs the reference in the capture's batches.
    """
    with torch.no_grad():
        caches = [
            model.run_with_cache(batch, names_filter=NAMES)[1]
            for batch in data.split(batch_size or len(data))
        ]
    return {name: torch.cat([c[name] for c in caches]) for name in NAMES}


def test_memory_sink_over_batches_equals_one_big_run(gpt: TinyGPT, data: torch.Tensor) -> None:
    result = capture(gpt, iter_batches(data, 4), NAMES, "memory")
    expected = reference(gpt, data)
    assert sorted(result) == sorted(NAMES)  # in firing order
    for name in NAMES:
        assert torch.allclose(result[name], expected[name], atol=1e-6), name


def test_cpu_sink_on_cpu_is_the_memory_sink(gpt: TinyGPT, data: torch.Tensor) -> None:
    memory = capture(gpt, iter_batches(data, 4), NAMES, "memory")
    offloaded = capture(gpt, iter_batches(data, 4), NAMES, "cpu")
    for name in NAMES:
        assert torch.equal(memory[name], offloaded[name])


def test_callback_sink_sees_every_batch_and_point(gpt: TinyGPT, data: torch.Tensor) -> None:
    seen: list[tuple[str, int, tuple[int, ...]]] = []
    result = capture(
        gpt,
        iter_batches(data, 4),
        NAMES[:1],
        "callback",
        fn=lambda n, t, b: seen.append((n, b, tuple(t.shape))),
    )
    assert result is None
    assert seen == [(NAMES[0], 0, (4, 6, 32)), (NAMES[0], 1, (4, 6, 32)), (NAMES[0], 2, (2, 6, 32))]


@pytest.mark.parametrize("per_position", [False, True])
def test_reduce_sink_matches_statistics_of_concatenated_activations(
    gpt: TinyGPT, data: torch.Tensor, per_position: bool
) -> None:
    stats = capture(gpt, iter_batches(data, 3), NAMES, "reduce", per_position=per_position)
    expected = reference(gpt, data, batch_size=3)
    for name in NAMES:
        x = expected[name].to(torch.float64)
        dims = (0,) if per_position else tuple(range(x.ndim - 1))
        got = stats[name]
        assert got["count"] == (x.shape[0] if per_position else x[..., 0].numel())
        # float64 accumulation: equal to the reference up to float64 rounding (stated tolerance 1e-12)
        torch.testing.assert_close(got["mean"], x.mean(dims), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got["var"], x.var(dims, unbiased=False), rtol=1e-12, atol=1e-12)
        assert torch.equal(got["min"], x.amin(dims)) and torch.equal(got["max"], x.amax(dims))


def test_running_stats_merge_is_exact_for_uneven_batches() -> None:
    values = torch.randn(37, 5, dtype=torch.float64) * 1e3 + 1e6  # large offset: naive sums lose digits
    stats = RunningStats()
    for chunk in values.split([1, 10, 3, 23]):
        stats.update(chunk, [0])
    torch.testing.assert_close(stats.mean, values.mean(0), rtol=1e-13, atol=0)
    torch.testing.assert_close(stats.var, values.var(0, unbiased=False), rtol=1e-9, atol=0)


def test_reduce_sink_rejects_changing_shapes() -> None:
    sink = ReduceSink(per_position=True)
    sink.write("p", torch.ones(2, 3, 4), batch=0)
    with pytest.raises(ValueError, match="per_position=False"):
        sink.write("p", torch.ones(2, 5, 4), batch=1)


def test_run_with_cache_accepts_a_sink(gpt: TinyGPT, data: torch.Tensor) -> None:
    _, stats = gpt.run_with_cache(data, names_filter=NAMES[:1], sink="reduce")
    assert set(stats) == {NAMES[0]} and stats[NAMES[0]]["mean"].shape == (32,)
    _, cache = gpt.run_with_cache(data, names_filter=NAMES[:1], sink="memory", remove_batch_dim=False)
    assert torch.equal(cache[NAMES[0]], reference(gpt, data)[NAMES[0]])
    assert all(not p.fwd_hooks for p in gpt.hook_points())


def test_capture_skips_completed_batches_and_unpacks_inputs(gpt: TinyGPT, data: torch.Tensor) -> None:
    calls: list[int] = []

    class Resumed(hookpoints.capturing.sinks.MemorySink):
        completed_batches = frozenset({0, 2})

    def forward(model: TinyGPT, batch: tuple[torch.Tensor, str]) -> None:
        calls.append(batch[0].shape[0])
        model(batch[0], return_type=batch[1])

    batches = [(b, "logits") for b in iter_batches(data, 4)]
    capture(gpt, batches, NAMES[:1], Resumed(), forward=forward)
    assert calls == [4]  # only batch 1 ran
    seen = []
    capture(
        gpt,
        [{"tokens": data[:2], "return_type": "loss"}],
        NAMES[:1],
        "callback",
        fn=lambda n, t, b: seen.append(b),
    )
    assert seen == [0]


def test_capture_runs_without_grad_by_default(gpt: TinyGPT, data: torch.Tensor) -> None:
    result = capture(gpt, [data[:2]], NAMES[:1])
    assert not result[NAMES[0]].requires_grad
    grads = capture(gpt, [data[:2]], NAMES[:1], "callback", grad=True, fn=lambda n, t, b: None)
    assert grads is None


def test_unknown_sink_and_bad_parameters(gpt: TinyGPT, data: torch.Tensor) -> None:
    with pytest.raises(
        hookpoints.errors.UnknownNameError, match="no cache sink named 'redcue'.*did you mean 'reduce'"
    ):
        capture(gpt, [data], NAMES, "redcue")
    with pytest.raises(
        TypeError, match="cache sink 'reduce' rejected parameters \\['per_pos'\\].*per_position"
    ):
        capture(gpt, [data], NAMES, "reduce", per_pos=True)
    with pytest.raises(TypeError, match="lacks write"):
        capture(gpt, [data], NAMES, object())  # type: ignore[arg-type]
    assert all(not p.fwd_hooks for p in gpt.hook_points())


@pytest.mark.parametrize(
    ("name", "params"), [("memory", {}), ("cpu", {}), ("reduce", {}), ("callback", {"fn": print})]
)
def test_core_sinks_conform(name: str, params: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    check_cache_sink(name, params)


def test_activation_cache_save_needs_the_plugin_or_roundtrips(tmp_path: object) -> None:
    cache = hookpoints.ActivationCache({"a": torch.ones(2)})
    try:
        import hookpoints_safetensors  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install hookpoints-safetensors"):
            cache.save(tmp_path / "c.safetensors")  # type: ignore[operator]
    else:
        path = cache.save(tmp_path / "c.safetensors")  # type: ignore[operator]
        assert torch.equal(hookpoints.ActivationCache.load(path)["a"], torch.ones(2))


@pytest.mark.parametrize("known_total", [True, False])
def test_plain_progress_shows_count_rate_and_eta_when_the_total_is_known(
    known_total: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from hookpoints.capturing.loop import _plain_progress

    items = list(_plain_progress(iter(range(3)), 3 if known_total else None))
    assert items == [0, 1, 2]
    err = capsys.readouterr().err
    last = err.strip().split("\r")[-1]
    assert "batch/s" in last
    if known_total:
        assert last.startswith("capturing 3/3") and "ETA 0:00:00" in last
    else:
        assert last.startswith("capturing 3 batches") and "ETA" not in last


def test_progress_bar_runs_over_a_generator_with_and_without_total(gpt: TinyGPT, data: torch.Tensor) -> None:
    # rich's bar where hookpoints-rich's session installs rich, the plain one in core's
    for total in (None, 3):
        result = capture(gpt, iter_batches(data, 4), NAMES[:1], "memory", progress=True, total=total)
        assert result[NAMES[0]].shape[0] == len(data)
