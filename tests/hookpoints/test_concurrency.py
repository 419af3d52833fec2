"""One model, several threads and asyncio tasks: each sees only its own scoped hooks.

Real threads and real tasks, bounded loops. The threads start together (a barrier) and each
forward is followed by a switch hint, so that their forwards interleave; every check counts
how many outputs differ from a single-threaded reference, and the count must be 0.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from hookpoints import HookPoint
from hookpoints.examples import TinyGPT
from hookpoints.testing import small_gpt, small_tokens

THREADS = 4
ROUNDS = 60  # forwards per thread: 4 x 60 = 240 per test
NAMES = ("blocks.0.hook_resid_mid", "blocks.1.mlp.hook_post", "ln_final.hook_normalized")


def _add(value: float) -> Callable[..., Tensor]:
    def add(t: Tensor, *, hook: HookPoint) -> Tensor:
        return t + value

    return add


def _in_threads(work: Callable[[int], Any], n: int = THREADS, timeout: float = 120.0) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads started together; their results (or re-raised errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = work(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a worker thread did not finish in time"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def gpt() -> TinyGPT:
    return small_gpt().eval()


@pytest.fixture
def tokens() -> Tensor:
    return small_tokens()


@torch.no_grad()
def test_another_threads_scoped_hook_alters_no_plain_forward(gpt: TinyGPT, tokens: Tensor) -> None:
    reference = gpt(tokens)
    patched_reference = gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[0], _add(1.0))])
    assert not torch.equal(reference, patched_reference)

    def work(i: int) -> int:
        wrong = 0
        for _ in range(ROUNDS):
            if i % 2 == 0:  # patchers
                out = gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[0], _add(1.0))])
                wrong += not torch.equal(out, patched_reference)
            else:  # plain forwards next to them
                wrong += not torch.equal(gpt(tokens), reference)
            time.sleep(0)
        return wrong

    assert _in_threads(work) == [0] * THREADS
    assert all(not hp.fwd_hooks and not hp.bwd_hooks for hp in gpt.hook_points())


@torch.no_grad()
def test_threads_running_run_with_cache_get_the_single_threaded_values(gpt: TinyGPT) -> None:
    inputs = [small_tokens(seed=i) for i in range(THREADS)]
    references = [gpt.run_with_cache(x, names_filter=list(NAMES))[1] for x in inputs]

    def work(i: int) -> int:
        wrong = 0
        for _ in range(ROUNDS):
            _, cache = gpt.run_with_cache(inputs[i], names_filter=list(NAMES))
            assert sorted(cache) == sorted(NAMES)
            wrong += sum(not torch.equal(cache[n], references[i][n]) for n in NAMES)
            time.sleep(0)
        return wrong

    assert _in_threads(work) == [0] * THREADS


@torch.no_grad()
def test_private_hooks_of_many_threads_show_no_cross_talk(gpt: TinyGPT, tokens: Tensor) -> None:
    def own_hooks(i: int) -> list[tuple[str, Callable[..., Tensor]]]:
        return [(name, _add(float(i + 1) * (k + 1))) for k, name in enumerate(NAMES)]

    expected = [gpt.run_with_hooks(tokens, fwd_hooks=own_hooks(i)) for i in range(THREADS)]
    assert len({tuple(e.flatten()[:4].tolist()) for e in expected}) == THREADS

    levels_after: list[int] = []

    def work(i: int) -> int:
        wrong = 0
        for _ in range(ROUNDS):
            with gpt.hooks(fwd_hooks=own_hooks(i)):
                assert gpt.context_level == 1
                time.sleep(0)  # let the others open their blocks on the same points
                wrong += not torch.equal(gpt(tokens), expected[i])
        levels_after.append(gpt.context_level)
        return wrong

    assert _in_threads(work) == [0] * THREADS
    assert levels_after == [0] * THREADS and gpt.context_level == 0
    assert all(not hp.fwd_hooks for hp in gpt.hook_points())


@torch.no_grad()
def test_a_hook_raising_in_one_thread_leaves_the_others_hooks_intact(gpt: TinyGPT, tokens: Tensor) -> None:
    expected = gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[1], _add(2.0))])
    inside = threading.Barrier(THREADS)

    def boom(t: Tensor, *, hook: HookPoint) -> Tensor:
        raise RuntimeError("boom")

    def work(i: int) -> int:
        if i == 0:
            with gpt.hooks(fwd_hooks=[(NAMES[1], boom)]):
                inside.wait(timeout=60)  # everyone's hooks are on the same point now
                with pytest.raises(RuntimeError, match="boom"):
                    gpt(tokens)
                inside.wait(timeout=60)
            return 0
        wrong = 0
        with gpt.hooks(fwd_hooks=[(NAMES[1], _add(2.0))]):
            inside.wait(timeout=60)
            inside.wait(timeout=60)  # thread 0 has raised by now
            for _ in range(ROUNDS):
                wrong += not torch.equal(gpt(tokens), expected)
        return wrong

    assert _in_threads(work) == [0] * THREADS
    assert all(not hp.fwd_hooks for hp in gpt.hook_points())


def test_backward_hooks_fire_for_their_own_threads_backward_only(gpt: TinyGPT) -> None:
    inputs = [small_tokens(seed=10 + i) for i in range(THREADS)]
    name = NAMES[0]

    def grad_of(x: Tensor) -> Tensor:
        seen: list[Tensor] = []
        gpt.run_with_hooks(
            x, bwd_hooks=[(name, lambda g, hook: seen.append(g.detach().clone()))]
        ).sum().backward()
        return seen[0]

    references = [grad_of(x) for x in inputs]

    def work(i: int) -> tuple[int, int]:
        wrong = calls = 0
        for _ in range(ROUNDS // 3):
            seen: list[Tensor] = []
            with gpt.hooks(bwd_hooks=[(name, lambda g, hook, seen=seen: seen.append(g.detach().clone()))]):
                out = gpt(inputs[i])
                time.sleep(0)
                out.sum().backward()
            calls += len(seen)
            wrong += sum(not torch.allclose(g, references[i]) for g in seen)
        return wrong, calls

    assert _in_threads(work) == [(0, ROUNDS // 3)] * THREADS
    assert all(not hp.bwd_hooks for hp in gpt.hook_points())


@torch.no_grad()
def test_global_hooks_are_shared_and_reset_hooks_leaves_other_threads_alone(
    gpt: TinyGPT, tokens: Tensor
) -> None:
    plain = gpt(tokens)
    scoped_only = gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[0], _add(1.0))])
    global_handle = gpt.add_hook(NAMES[2], _add(3.0))  # outside any scope: every thread sees it
    with_global = gpt(tokens)
    opened, reset_done = threading.Event(), threading.Event()
    results: dict[str, bool] = {}

    def keeper() -> None:
        with gpt.hooks(fwd_hooks=[(NAMES[0], _add(1.0))]):
            opened.set()
            assert reset_done.wait(60)
            # the global hook is gone (the resetter removed it), the keeper's own hook is not
            results["keeper still patched"] = torch.equal(gpt(tokens), scoped_only)

    def resetter() -> None:
        assert opened.wait(60)
        results["resetter sees only the global hook"] = torch.equal(gpt(tokens), with_global)
        gpt.reset_hooks()  # this thread's scoped hooks and the global ones, never the keeper's
        results["resetter plain after reset"] = torch.equal(gpt(tokens), plain)
        reset_done.set()

    threads = [threading.Thread(target=keeper), threading.Thread(target=resetter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == dict.fromkeys(
        ["resetter sees only the global hook", "resetter plain after reset", "keeper still patched"], True
    )
    assert global_handle not in gpt.hook_dict[NAMES[2]].fwd_hooks
    assert torch.equal(gpt(tokens), plain)


@torch.no_grad()
def test_asyncio_tasks_each_see_only_their_own_scoped_hooks(gpt: TinyGPT, tokens: Tensor) -> None:
    reference = gpt(tokens)
    expected = [
        gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[1], _add(float(i + 1)))]) for i in range(THREADS)
    ]

    async def patched(i: int) -> int:
        wrong = 0
        for _ in range(ROUNDS // 2):
            with gpt.hooks(fwd_hooks=[(NAMES[1], _add(float(i + 1)))]):
                await asyncio.sleep(0)  # the other tasks run their forwards here
                wrong += not torch.equal(gpt(tokens), expected[i])
                await asyncio.sleep(0)
        return wrong

    async def plain() -> int:
        wrong = 0
        for _ in range(ROUNDS):
            wrong += not torch.equal(gpt(tokens), reference)
            await asyncio.sleep(0)
        return wrong

    async def main() -> list[int]:
        return list(await asyncio.gather(*(patched(i) for i in range(THREADS)), plain()))

    assert asyncio.run(main()) == [0] * (THREADS + 1)
    assert gpt.context_level == 0
    assert all(not hp.fwd_hooks for hp in gpt.hook_points())


@torch.no_grad()
def test_a_task_started_inside_a_scope_sees_it_but_keeps_its_own_hooks(gpt: TinyGPT, tokens: Tensor) -> None:
    outer = gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[0], _add(1.0))])
    both = gpt.run_with_hooks(tokens, fwd_hooks=[(NAMES[0], _add(1.0)), (NAMES[1], _add(2.0))])

    async def child() -> bool:
        with gpt.hooks(fwd_hooks=[(NAMES[1], _add(2.0))]):
            await asyncio.sleep(0)
            return torch.equal(gpt(tokens), both)

    async def main() -> tuple[bool, bool]:
        with gpt.hooks(fwd_hooks=[(NAMES[0], _add(1.0))]):
            task = asyncio.create_task(child())
            await asyncio.sleep(0)  # the child's block is open now
            parent_sees_only_its_own = torch.equal(gpt(tokens), outer)
            return parent_sees_only_its_own, await task

    assert asyncio.run(main()) == (True, True)
    assert all(not hp.fwd_hooks for hp in gpt.hook_points())
