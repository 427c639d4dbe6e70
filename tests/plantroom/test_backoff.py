"""The one backoff rule: exponential, capped, equal jitter."""

from __future__ import annotations

import random

import pytest

from gateway.retry import RetryPolicy
from plantroom.backoff import Backoff, backoff_delay


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = RetryPolicy(first_s=0.1, max_s=1.0).backoff(rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_backoff_grows_with_jitter_up_to_a_limit() -> None:
    backoff = Backoff(0.5, 4.0)
    delays = [backoff.next_delay() for _ in range(10)]
    assert 0.25 <= delays[0] <= 0.75
    assert 0.5 <= delays[1] <= 1.5
    assert all(d <= 6.0 for d in delays)
    assert delays[-1] >= 2.0
    backoff.reset()
    assert backoff.next_delay() <= 0.75


def test_backoff_is_jittered_exponential_and_capped() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 30.0, rng) for n in range(12)]
    assert all(0.25 <= d <= 30.0 for d in delays)
    assert max(delays[:2]) <= 1.0
    assert max(delays[8:]) > 10.0
    assert len({round(d, 6) for d in delays}) == len(delays)


@pytest.mark.parametrize("failures", [0, 1, 5, 40, 10_000])
def test_every_wait_is_between_half_the_ceiling_and_the_ceiling(failures: int) -> None:
    rng = random.Random(failures)
    ceiling = min(8.0, 0.25 * 2.0 ** min(failures, 32))
    for _ in range(200):
        assert ceiling / 2 <= backoff_delay(failures, 0.25, 8.0, rng) <= ceiling


def test_the_wait_never_exceeds_the_maximum() -> None:
    backoff = Backoff(1.0, 3.0, rng=random.Random(3))
    assert max(backoff.next_delay() for _ in range(100)) <= 3.0
    assert backoff.failures == 100


@pytest.mark.parametrize(("first", "maximum"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_a_backoff_that_cannot_work_is_refused(first: float, maximum: float) -> None:
    with pytest.raises(ValueError, match=f"first_s <= max_s, got {first} and {maximum}"):
        Backoff(first, maximum)


def test_a_backoff_without_its_own_generator_draws_from_the_modules() -> None:
    # no generator of its own to seed for each run of failures (one per batch in the cloud)
    random.seed(7)
    first = [Backoff(1.0, 60.0).next_delay() for _ in range(3)]
    random.seed(7)
    again = [Backoff(1.0, 60.0).next_delay() for _ in range(3)]
    assert first == again
    assert len(set(first)) == 3  # still jittered: each draw moves the shared generator on
