"""Processing the consumer's batches so that one bad message costs only itself.

A batch is one transaction. When it fails it is tried again (`attempts` times in all, with
backoff: a database restarting or a lock held a moment is over by then). If it still fails,
its messages are processed one at a time, each in its own transaction and tried twice: the
good neighbours of a poison message commit, and a message that fails even alone is
dead-lettered: logged with its topic and the reason, and counted.

A run may apply only the front of a batch and stop there (`cloud.monitor.Monitor.process`
with `stop`, when an alarm waits behind it): it returns how many it applied, and the outcome
says how many were `left` for the caller to queue again, untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cloud.monitor import Item, StatusItem, TelemetryItem

log = logging.getLogger(__name__)

BATCH_ATTEMPTS = 3
ALONE_ATTEMPTS = 2
MAX_REASON = 300

Run = Callable[[Sequence[Item]], Awaitable[int]]  # how many of the items it applied
Sleep = Callable[[int], Awaitable[None]]


@dataclass(slots=True)
class BatchOutcome:
    processed: int = 0
    dead_lettered: int = 0
    left: int = 0  # the batch's last ones, not applied: the run stopped before them
    last_error: str | None = None


def topic_of(item: Item) -> str:
    if isinstance(item, TelemetryItem):
        return item.topic.telemetry()
    if isinstance(item, StatusItem):
        return item.topic.status()
    return "(rule tick)"


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


async def _attempt(
    run: Run, items: Sequence[Item], attempts: int, pause: Sleep
) -> tuple[int, str | None]:
    """Run `items` up to `attempts` times: how many it applied once it succeeds (and None),
    else 0 and the last reason."""
    reason = None
    for attempt in range(1, attempts + 1):
        try:
            return await run(items), None
        except Exception as exc:
            reason = _reason(exc)
            if attempt < attempts:
                await pause(attempt)
    return 0, reason


async def process_batch(
    run: Run,
    batch: Sequence[Item],
    *,
    pause: Sleep,
    batch_attempts: int = BATCH_ATTEMPTS,
    alone_attempts: int = ALONE_ATTEMPTS,
) -> BatchOutcome:
    """Process `batch` with `run` (one transaction per call), isolating what fails: see the
    module's docstring. `pause(attempt)` waits between attempts of the whole batch."""
    outcome = BatchOutcome()
    applied, reason = await _attempt(run, batch, batch_attempts, pause)
    if reason is None:
        outcome.processed = applied
        outcome.left = len(batch) - applied
        return outcome
    outcome.last_error = f"processing failed: {reason}"
    if len(batch) == 1:
        alone = [(batch[0], reason)]
    else:
        log.warning(
            "a batch of %d messages failed %d times (%s); processing its messages one by one",
            len(batch),
            batch_attempts,
            reason,
        )
        alone = []
        for item in batch:
            _, failed = await _attempt(run, [item], alone_attempts, _no_pause)
            if failed is None:
                outcome.processed += 1
            else:
                alone.append((item, failed))
    for item, why in alone:
        outcome.dead_lettered += 1
        log.error(
            "dead-lettered a message on %s that fails processing on its own (in a batch of %d): %s",
            topic_of(item),
            len(batch),
            why,
        )
    return outcome


async def _no_pause(attempt: int) -> None:
    await asyncio.sleep(0)
