"""The API benchmark's arithmetic: a run's figures, the capacity search and the recovery after
overload, on made-up samples."""

from __future__ import annotations

import math

import pytest

from benchmarks.api_capacity import Recovery, Search, figures, recovery
from benchmarks.api_load import Phase, Sample
from benchmarks.api_report import Alone, Run, report


def sample(
    ms: float, status: int | None = 200, due_s: float = 0.0, error: str | None = None
) -> Sample:
    return Sample(0, "list", due_s, ms, status, error)


def test_figures_count_served_shed_and_other_failures_apart() -> None:
    samples = [sample(float(ms)) for ms in range(1, 101)]
    samples += [sample(1.0, 503), sample(1.0, 503), sample(10_000.0, None, error="timeout")]
    samples.append(sample(5.0, 409))
    f = figures(samples, 100.0)
    assert (f.requests, f.served, f.shed) == (104, 100, 2)
    assert f.errors == {"timeout": 1, "HTTP 409": 1}
    assert (f.p50, f.p99, f.max) == (50.0, 99.0, 100.0)  # of the served only
    assert not f.met(target_ms=100, max_shed=0.05)  # the timeout and the 409


def test_the_target_is_met_by_latency_and_the_share_shed() -> None:
    fast = [sample(10.0)] * 99
    assert figures([*fast, sample(10.0, 503)], 1).met(target_ms=50, max_shed=0.01)
    assert not figures([*fast, sample(10.0, 503), sample(1, 503)], 1).met(50, 0.01)
    assert not figures([*fast, sample(60.0), sample(60.0)], 1).met(50, 0.01)
    nothing = figures([sample(1.0, 503)], 1)
    assert math.isnan(nothing.p99) and not nothing.met(50, 1.0)


def test_the_search_grows_until_a_miss_then_halves_the_gap() -> None:
    capacity = 500.0
    search = Search(first=100, growth=2, precision=1.1, max_steps=20)
    tried = []
    while (rate := search.next_rate()) is not None:
        tried.append(rate)
        search.record(rate, rate <= capacity)
    assert tried[:5] == [100, 200, 400, 800, 800]  # a miss is run once more
    assert tried[5] == 600  # between 400 met and 800 missed
    assert search.met is not None and search.missed is not None
    assert search.met <= capacity < search.missed <= search.met * 1.1


def test_the_search_comes_down_when_the_first_step_misses_and_is_bounded() -> None:
    search = Search(first=100, growth=2, precision=1.01, max_steps=5)
    tried = []
    while (rate := search.next_rate()) is not None:
        tried.append(rate)
        search.record(rate, rate <= 30)
    assert tried == [100, 100, 50, 50, 25]  # each miss run once more, until the steps run out
    assert search.met == 25


def test_a_step_that_misses_once_by_chance_does_not_end_the_climb() -> None:
    search = Search(first=100, growth=2, precision=1.1, max_steps=20)
    tried = []
    unlucky = True
    while (rate := search.next_rate()) is not None:
        tried.append(rate)
        met = rate <= 500 and not (rate == 100 and unlucky)
        unlucky = unlucky and rate != 100
        search.record(rate, met)
    assert tried[:3] == [100, 100, 200]  # the first step missed by chance, then met
    assert search.met is not None and 400 <= search.met <= 500


def test_a_search_is_refused_bounds_that_never_end() -> None:
    with pytest.raises(ValueError, match="growth > 1"):
        Search(first=100, growth=1, precision=1.1, max_steps=5)


def test_recovery_is_when_the_last_request_not_served_in_time_was_due() -> None:
    calm = [sample(5.0, due_s=n / 100) for n in range(100)]
    assert recovery(calm, 50) == Recovery(0, 0.0, True)
    calm[3] = sample(5.0, 503, due_s=0.03)
    calm[20] = sample(80.0, due_s=0.20)
    back = recovery(calm, 50)
    assert (back.bad, back.last_bad_s, back.settled) == (2, 0.20, True)
    calm[95] = sample(5.0, 503, due_s=0.95)
    assert not recovery(calm, 50).settled  # still shedding as the phase ended


def run_of(phases: list[Phase], samples: list[Sample]) -> Run:
    return Run(tuple(phases), samples, seconds=10.0, server_cores=1.5, client_cores=0.2)


def test_the_report_gives_the_cost_the_capacity_and_the_overload() -> None:
    def phase(n: int, count: int, status: int = 200, ms: float = 5.0) -> list[Sample]:
        return [
            Sample(n, ("list", "acknowledge")[i % 2], i / 100, ms, status) for i in range(count)
        ]

    alone = [Alone("a list page", 3.0, 2.25)]
    fixed = run_of([Phase(200, 30)], phase(0, 600))
    steps = [run_of([Phase(150, 5)], phase(0, 750)), run_of([Phase(225, 5)], phase(0, 1125, 503))]
    hot = phase(0, 3000, ms=20.0) + phase(0, 1500, 503)
    overload = run_of([Phase(300, 10), Phase(75, 5)], [*hot, *phase(1, 375)])
    text = report(alone, 1.25, fixed, steps, 150.0, overload, 5.0, 86.0)
    assert "| a list page | 3.0 | 2.25 |" in text
    assert "the API processes used 1.2 ms of CPU a second over 20 s" in text
    assert "**150 requests a second**, in 2 steps" in text
    assert "| 225/s | both | 1125 | 0 | 100.0% |" in text
    assert "served 300 requests a second with p99 20.0 ms and answered 33% 503" in text
    assert "every request after the drop was served within the target" in text
