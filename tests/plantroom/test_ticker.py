"""The worker thread and the ticker: work in order on one named thread off the event loop,
stop waiting for the work under way and leaving no thread behind, ticks counted and failures
logged once per outage."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

import pytest

from plantroom.ticker import NotRunning, Ticked, Ticker, TickerStats, WorkerThread
from tests.harness import wait_for_async


def alive(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


async def test_work_runs_in_order_on_one_named_thread_off_the_loop() -> None:
    seen: list[tuple[int, str]] = []

    def work(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 10

    async with WorkerThread("t-order") as worker:
        results = await asyncio.gather(*(worker.call(work, n) for n in range(20)))
        assert worker.running
    assert results == [n * 10 for n in range(20)]
    assert [n for n, _ in seen] == list(range(20))
    names = {name for _, name in seen}
    assert len(names) == 1 and names.pop().startswith("t-order")
    assert threading.current_thread().name not in {name for _, name in seen}
    assert alive("t-order") == []


async def test_work_is_refused_before_start_and_after_stop() -> None:
    worker = WorkerThread("t-refuse")
    with pytest.raises(NotRunning, match="t-refuse is not running"):
        await worker.call(int, "1")
    worker.start()
    with pytest.raises(RuntimeError, match="already running"):
        worker.start()
    assert await worker.call(int, "7") == 7
    await worker.stop()
    await worker.stop()  # a second stop does nothing
    with pytest.raises(NotRunning):
        await worker.call(int, "1")


async def test_stop_waits_for_the_work_handed_over() -> None:
    release = threading.Event()
    done: list[str] = []

    def slow(name: str) -> None:
        release.wait(30)
        done.append(name)

    worker = WorkerThread("t-drain")
    worker.start()
    first = asyncio.ensure_future(worker.call(slow, "first"))
    second = asyncio.ensure_future(worker.call(slow, "second"))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done() and done == []  # the event loop is not blocked meanwhile
    release.set()
    await stopping
    assert done == ["first", "second"]
    assert await first is None and await second is None
    assert alive("t-drain") == []


async def test_the_ticker_ticks_on_its_thread_and_counts() -> None:
    threads: set[str] = set()

    def tick() -> int:
        threads.add(threading.current_thread().name)
        return len(threads)

    async with Ticker("t-tick", tick, interval=0.01) as ticker:
        assert ticker.running
        await wait_for_async(
            lambda: ticker.stats.ticks >= 3, "three ticks", within=10.0, interval=0.01
        )
    assert not ticker.running
    assert ticker.stats.failures == 0 and ticker.stats.last_error is None
    assert ticker.stats.last_tick_at is not None
    assert len(threads) == 1 and threads.pop().startswith("t-tick")
    assert alive("t-tick") == []


async def test_a_failing_tick_is_logged_once_per_outage_and_ticking_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def tick() -> None:
        nonlocal calls
        calls += 1
        if 2 <= calls <= 4:
            raise OSError(f"database away ({calls})")

    caplog.set_level(logging.DEBUG, logger="plantroom.ticker")
    async with Ticker("t-fail", tick, interval=0.01, what="the test ticker") as ticker:
        await wait_for_async(
            lambda: ticker.stats.ticks >= 3, "ticks after the outage", within=10.0, interval=0.01
        )
    stats = ticker.stats
    assert stats.failures == 3 and stats.failing == 0
    assert stats.last_error == "OSError: database away (4)"  # kept after recovery
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "the test ticker failed" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sum("still failing" in m for m in debug) == 2
    assert sum("the test ticker works again" in r.getMessage() for r in caplog.records) == 1


async def test_the_first_tick_can_wait_one_interval() -> None:
    ticks: list[int] = []
    async with Ticker("t-late", lambda: ticks.append(1), interval=3600, delay_first=True):
        await asyncio.sleep(0.05)
    assert ticks == []  # stopped during the first interval: no tick, and no wait for it
    async with Ticker("t-soon", lambda: ticks.append(1), interval=3600) as ticker:
        await wait_for_async(
            lambda: ticker.stats.ticks == 1, "the first tick at once", within=10.0, interval=0.01
        )
    assert ticks == [1]


async def test_wake_ticks_now_from_any_thread_instead_of_after_the_pause() -> None:
    ticks: list[int] = []
    Ticker("t-idle", lambda: ticks.append(1), interval=3600).wake()  # not running: nothing
    async with Ticker("t-wake", lambda: ticks.append(1), interval=3600) as ticker:
        await wait_for_async(lambda: ticker.stats.ticks == 1, "the first tick", within=10.0)
        # from another thread, as the fault path does after it raised an alarm
        threading.Thread(target=ticker.wake).start()
        await wait_for_async(lambda: ticker.stats.ticks == 2, "the woken tick", within=10.0)
        ticker.wake()
        await wait_for_async(lambda: ticker.stats.ticks == 3, "woken again", within=10.0)
    assert ticks == [1, 1, 1]  # an hour's interval: every tick after the first was woken


async def test_run_now_takes_its_turn_on_the_thread_and_raises() -> None:
    names: list[str] = []
    fail = False

    def tick() -> str:
        names.append(threading.current_thread().name)
        if fail:
            raise ValueError("bad plan")
        return "ran"

    ticker = Ticker("t-now", tick, interval=3600, delay_first=True)
    assert await ticker.run_now() == "ran"  # not running: in the caller's thread
    assert names == [threading.current_thread().name]
    async with ticker:
        assert await ticker.run_now() == "ran"
        assert names[-1].startswith("t-now")
        assert await ticker.call(lambda: threading.current_thread().name) == names[-1]
        fail = True
        with pytest.raises(ValueError, match="bad plan"):
            await ticker.run_now()
    assert ticker.stats.ticks == 2 and ticker.stats.failures == 1
    assert ticker.stats.last_error == "ValueError: bad plan"


async def test_stop_lets_the_tick_under_way_finish() -> None:
    started = threading.Event()
    release = threading.Event()

    def tick() -> None:
        started.set()
        release.wait(30)

    ticker = Ticker("t-finish", tick, interval=3600)
    await ticker.start()
    await wait_for_async(started.is_set, "the tick to start", within=10.0, interval=0.01)
    stopping = asyncio.create_task(ticker.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    await stopping
    assert ticker.stats.ticks == 1
    assert alive("t-finish") == []


@dataclass(slots=True)
class CountingStats(TickerStats):
    widgets: int = 0


async def test_the_tick_adds_its_own_counts_to_the_stats() -> None:
    stats = CountingStats()

    def tick() -> None:
        stats.widgets += 2

    async with Ticker("t-own", tick, interval=0.01, stats=stats) as ticker:
        await wait_for_async(lambda: stats.ticks >= 2, "two ticks", within=10.0, interval=0.01)
    assert ticker.stats is stats and stats.widgets == 2 * stats.ticks


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ticker t-bad: interval must be more than zero"):
        Ticker("t-bad", lambda: None, interval=0)


class Sweeper(Ticked):
    def __init__(self) -> None:
        self.swept = 0
        self.ticker: Ticker[int] = Ticker("t-owner", self.sweep, interval=0.01)

    def sweep(self) -> int:
        self.swept += 1
        return self.swept


async def test_an_owner_of_a_ticker_runs_while_entered() -> None:
    async with Sweeper() as sweeper:
        assert sweeper.ticker.running
        await wait_for_async(lambda: sweeper.swept >= 2, "two sweeps", within=10.0, interval=0.01)
    assert not sweeper.ticker.running and alive("t-owner") == []
    assert sweeper.ticker.stats.ticks == sweeper.swept
