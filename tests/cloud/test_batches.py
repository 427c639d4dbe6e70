"""Batch processing with poison isolation, against a fake transaction runner."""

from __future__ import annotations

from collections.abc import Sequence

from cloud.batches import process_batch
from cloud.enums import EquipmentStatus
from cloud.monitor import Item, StatusItem, TickItem
from plantroom.topics import EquipmentTopic


def status(equipment: str) -> StatusItem:
    return StatusItem(EquipmentTopic("s", "b", "pump", equipment), EquipmentStatus.ONLINE)


class Runner:
    """Commits a call unless it holds a poisoned item, or while `down` calls remain; applies
    at most `stop_after` items of a call."""

    def __init__(
        self, poisoned: set[str] = frozenset(), down: int = 0, stop_after: int | None = None
    ) -> None:
        self.poisoned = poisoned
        self.down = down
        self.stop_after = stop_after
        self.calls: list[int] = []
        self.committed: list[Item] = []

    async def __call__(self, items: Sequence[Item]) -> int:
        self.calls.append(len(items))
        if self.down:
            self.down -= 1
            raise ConnectionError("database restarting")
        if self.stop_after is not None:
            items = items[: self.stop_after]
        if any(isinstance(i, StatusItem) and i.topic.equipment in self.poisoned for i in items):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        self.committed.extend(items)
        return len(items)


async def no_pause(attempt: int) -> None:
    return None


async def test_a_transient_failure_is_retried_as_a_batch() -> None:
    run = Runner(down=2)
    batch: list[Item] = [status(f"p{i}") for i in range(5)]
    outcome = await process_batch(run, batch, pause=no_pause)
    assert (outcome.processed, outcome.dead_lettered) == (5, 0)
    assert run.calls == [5, 5, 5]


async def test_a_poison_message_is_isolated_and_its_neighbours_commit() -> None:
    run = Runner(poisoned={"p2"})
    batch: list[Item] = [status(f"p{i}") for i in range(5)] + [TickItem()]
    outcome = await process_batch(run, batch, pause=no_pause)
    assert (outcome.processed, outcome.dead_lettered) == (5, 1)
    assert [c for c in run.calls if c > 1] == [6, 6, 6]
    assert run.calls.count(1) == 6 + 1  # each alone once, the poison twice
    assert status("p2") not in run.committed and len(run.committed) == 5
    assert outcome.last_error is not None and "OverflowError" in outcome.last_error


async def test_a_single_message_that_keeps_failing_is_dead_lettered() -> None:
    run = Runner(poisoned={"p0"})
    outcome = await process_batch(run, [status("p0")], pause=no_pause)
    assert (outcome.processed, outcome.dead_lettered) == (0, 1)
    assert run.calls == [1, 1, 1]


async def test_a_run_that_stops_early_leaves_the_rest_for_the_caller() -> None:
    run = Runner(down=1, stop_after=2)
    batch: list[Item] = [status(f"p{i}") for i in range(5)]
    outcome = await process_batch(run, batch, pause=no_pause)
    assert (outcome.processed, outcome.left, outcome.dead_lettered) == (2, 3, 0)
    assert run.committed == batch[:2] and run.calls == [5, 5]
