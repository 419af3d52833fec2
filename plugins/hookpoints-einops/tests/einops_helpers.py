"""Test settings for the einops tests; the property helpers live in ``hookpoints.testing``."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

import hookpoints
from hookpoints.testing import (  # noqa: F401  (re-exported for the tests)
    FLOATS,
    INTS,
    LAYOUTS,
    Index,
    ViewExample,
    assert_same,
    check_edit_and_gradient,
    check_roundtrip,
    edit_by_hand,
    edit_view,
    make_tensor,
    positions,
    shapes,
)

Example = ViewExample
hookpoints.conversions.available()  # load the plugins now, not inside a hypothesis draw

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def create(name: str, **params: Any) -> Any:
    return hookpoints.conversions.create(name, **params)
