"""Fixtures of the rule engine's tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.cloud.harness import Clock


@pytest.fixture
def clock() -> Clock:
    """A clock injected into the engine, at 1000 s past the epoch until a test moves it."""
    return Clock(datetime.fromtimestamp(1000.0, UTC))
