"""Random sequences of add / remove / scope enter / exit / raise / reset on a small model.

After every step the hooks each point holds are exactly those a ledger kept by the test says
are live, the point's dispatch mode agrees (at rest iff nothing is attached, no torch hook left
behind), and a forward gives exactly what the live hooks add. Each hook adds its own power of
two, so the output says which hooks ran. At the end, with every scope closed and everything
reset, the forward equals the untouched model's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hookpoints import HookPoint, LensHandle
from hookpoints.core.hook_point import DispatchMode
from hookpoints.testing import ARITH_INPUT, Arith

X = ARITH_INPUT.double()  # float64: sums of up to 40 distinct powers of two stay exact

POINTS = ("hook_in", "block.hook_mid", "hook_out")
#: How much a value added at each point moves the output (Arith: out = (in * 2) + 1).
GAIN = {"hook_in": 2.0, "block.hook_mid": 1.0, "hook_out": 1.0}


@dataclass
class Live:
    point: str
    value: float
    permanent: bool
    scope: int | None  # removed when this scope closes; None: only by handle or reset
    handle: LensHandle | None


class HookStateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = Arith()
        self.reference = self.model(X).clone()
        self.ledger: dict[Callable[..., torch.Tensor], Live] = {}
        self.scopes: list[tuple[int, contextlib.ExitStack]] = []
        self.next_bit = 0
        self.next_scope = 0

    def _adder(self) -> tuple[Callable[..., torch.Tensor], float]:
        value = 2.0 ** (self.next_bit % 40)  # exact in float64 sums of distinct powers
        self.next_bit += 1

        def add(t: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
            return t + value

        return add, value

    # ------------------------------------------------------------------ rules
    @rule(point=st.sampled_from(POINTS), permanent=st.booleans())
    def add_hook(self, point: str, permanent: bool) -> None:
        fn, value = self._adder()
        handle = self.model.add_hook(point, fn, is_permanent=permanent)
        assert isinstance(handle, LensHandle)
        self.ledger[fn] = Live(point, value, permanent, None, handle)

    @precondition(lambda self: len(self.scopes) < 4)
    @rule(point=st.sampled_from(POINTS))
    def open_scope(self, point: str) -> None:
        fn, value = self._adder()
        stack = contextlib.ExitStack()
        stack.enter_context(self.model.hooks(fwd_hooks=[(point, fn)]))
        self.next_scope += 1
        self.scopes.append((self.next_scope, stack))
        self.ledger[fn] = Live(point, value, False, self.next_scope, None)

    @precondition(lambda self: bool(self.scopes))
    @rule(point=st.sampled_from(POINTS), adopt=st.booleans())
    def add_inside_scope(self, point: str, adopt: bool) -> None:
        """``level=context_level`` makes the hook part of the innermost block; else it outlives it."""
        fn, value = self._adder()
        level = self.model.context_level if adopt else None
        handle = self.model.add_hook(point, fn, level=level)
        assert isinstance(handle, LensHandle)
        self.ledger[fn] = Live(point, value, False, self.scopes[-1][0] if adopt else None, handle)

    @precondition(lambda self: bool(self.scopes))
    @rule()
    def close_scope(self) -> None:
        scope_id, stack = self.scopes.pop()
        stack.close()
        for fn in [fn for fn, live in self.ledger.items() if live.scope == scope_id]:
            del self.ledger[fn]

    @precondition(lambda self: any(live.handle is not None for live in self.ledger.values()))
    @rule(data=st.data())
    def remove_handle(self, data: st.DataObject) -> None:
        removable = [fn for fn, live in self.ledger.items() if live.handle is not None]
        fn = data.draw(st.sampled_from(removable))
        handle = self.ledger.pop(fn).handle
        assert handle is not None
        handle.remove()
        handle.remove()  # idempotent

    @rule(including_permanent=st.booleans())
    def reset_hooks(self, including_permanent: bool) -> None:
        self.model.reset_hooks(including_permanent=including_permanent)
        for fn in [fn for fn, live in self.ledger.items() if including_permanent or not live.permanent]:
            del self.ledger[fn]

    @rule(point=st.sampled_from(POINTS))
    def raise_inside_a_scope(self, point: str) -> None:
        def boom(t: torch.Tensor, *, hook: HookPoint) -> torch.Tensor:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"), self.model.hooks(fwd_hooks=[(point, boom)]):
            self.model(X)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def each_point_holds_exactly_the_live_hooks(self) -> None:
        for name in (*POINTS, "block.hook_unused"):
            point = self.model.hook_dict[name]
            held = sorted(id(h.user_hook) for h in point.fwd_hooks)
            expected = sorted(id(fn) for fn, live in self.ledger.items() if live.point == name)
            assert held == expected, name
            assert not point._forward_hooks and not point._backward_hooks  # nothing left in torch
            assert (point._mode is DispatchMode.REST) == (not expected), name

    @invariant()
    def a_forward_adds_exactly_the_live_hooks(self) -> None:
        expected = self.reference + sum(GAIN[live.point] * live.value for live in self.ledger.values())
        assert torch.equal(self.model(X), expected)

    def teardown(self) -> None:
        while self.scopes:
            self.scopes.pop()[1].close()
        self.model.reset_hooks(including_permanent=True)
        assert torch.equal(self.model(X), self.reference)
        assert all(not p.fwd_hooks and p._mode is DispatchMode.REST for p in self.model.hook_points())
        assert self.model.context_level == 0


HookStateMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_hook_state_sequences = HookStateMachine.TestCase
