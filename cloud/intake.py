"""The consumer's intake queue: alarms and state changes first, routine samples coalesced.

    receiver ──► put ──► urgent lane (status, ticks, samples `cloud.triggers` calls urgent)
                    └──► routine lane (a sample folded into its equipment's waiting one)
                take(n) ──► urgent entries, each after its equipment's earlier routine ones,
                            in a batch of their own; else routine entries in arrival order
                put_back ◄── the routine entries of a batch cut short for an urgent entry

**Order per equipment.** A later message of one piece of equipment is never applied before
an earlier one: an urgent entry is taken with the routine entries of its equipment that
arrived before it, in front of it; a routine sample arriving after an urgent one starts a new
entry behind it; routine entries put back go in front, where they were. Between different
pieces of equipment the order is free.

**Coalescing.** A routine sample is folded into its equipment's routine entry still waiting
(the last value of each point wins, the sample's time, sequence number and qualities with
them), so that however far behind the worker is, a piece of equipment waits in the queue
about once. Not folded, so that what windowed rules need is kept: a sample that would replace
the value of a point a rate, trend or counter rule keeps the history of, unless the rule
engine would itself have replaced it (the entry spans less than the engine's resolution for
that point's window and, for a counter, the value did not fall: a reset is never hidden; a
counter that did not move folds at any time, as no rise is lost); a
sample older than the entry (the monitor sets it aside as out of order); a sample that would
make an entry of more than `MAX_POINTS` points. Such a sample starts a new entry, and later
samples fold into that one. Acknowledgements are unchanged: a message is acknowledged once it
is in the queue, folded or not, so its effect is queued before the broker forgets it.

**Bound.** At most `maxsize` entries; folding takes no room. The consumer waits for room
before a put (`has_room`), and the broker holds back what follows (see `cloud.ingest`).

**Lag.** Each entry keeps when its oldest message arrived: `oldest_wait` is the age of the
oldest waiting message, and the consumer measures each taken entry's arrival → processed
delay per lane. `LagWatch` (`cloud.intakelag`) turns the oldest wait into the
`telemetry_intake_behind` alarm.
`IntakeQueue` is pure logic; `Intake` adds the waiting (for room, for work) on the consumer's
event loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cloud.equipment import key as equipment_key
from cloud.intakelag import Delays as Delays
from cloud.intakelag import LagWatch as LagWatch
from cloud.intakelag import health_fields as health_fields
from cloud.monitor import Item, TelemetryItem, TickItem
from cloud.rules.base import as_number
from cloud.triggers import HistoryPoint, Triggers
from plantroom.schema import MAX_POINTS, Telemetry


@dataclass(slots=True, eq=False)
class Entry:
    """One queue entry: an item and the messages folded into it."""

    item: Item
    urgent: bool
    received: float  # when its oldest message arrived (the consumer's monotonic clock)
    order: int
    messages: int = 1
    first_ts: int = 0  # a sample's edge time when the entry started (its span)
    taken: bool = False

    @property
    def key(self) -> str | None:
        if isinstance(self.item, TickItem):
            return None
        topic = self.item.topic
        return equipment_key(topic.site, topic.equipment)


def fold(
    old: Telemetry, new: Telemetry, *, first_ts: int, windows: Mapping[str, HistoryPoint]
) -> Telemetry | None:
    """`old` and then `new` as one sample, or None when it would lose what a windowed rule
    needs, go back in time, or grow past `MAX_POINTS` (see the module's docstring)."""
    if new.ts < old.ts:
        return None
    for point, history in windows.items():
        if point not in new.points or point not in old.points:
            continue  # nothing of its history is replaced
        if history.counter:
            before, after = as_number(old.points[point]), as_number(new.points[point])
            if before is not None and after is not None:
                if after < before:
                    return None  # a reset
                if after == before:
                    continue  # it did not count: no rise is lost
        if new.ts - first_ts >= history.resolution_s * 1000:
            return None
    points = {**old.points, **new.points}
    if len(points) > MAX_POINTS:
        return None
    quality = {p: q for p, q in (old.quality or {}).items() if p not in new.points}
    quality.update(new.quality or {})
    return Telemetry.model_construct(ts=new.ts, seq=new.seq, points=points, quality=quality or None)


class IntakeQueue:
    """Two lanes, bounded together; see the module's docstring."""

    def __init__(self, maxsize: int, triggers: Triggers) -> None:
        if maxsize < 1:
            raise ValueError(f"intake queue size must be at least 1, not {maxsize}")
        self.maxsize = maxsize
        self.triggers = triggers
        self._urgent: deque[Entry] = deque()
        self._routine: deque[Entry] = deque()  # taken entries stay until reached (skipped)
        self._stale = 0  # taken entries still in `_routine`
        self._waiting: dict[str, deque[Entry]] = {}  # per equipment, its routine entries
        self._open: dict[str, Entry] = {}  # per equipment, the routine entry folded into
        self._size = 0
        self._routine_size = 0
        self._order = 0
        self.coalesced = 0  # messages folded into an entry already waiting
        # False while a short batch lingers for more: what arrives joins it as it came, as
        # if taken at once (folding is for a worker that is behind)
        self.folding = True

    def __len__(self) -> int:
        return self._size

    @property
    def urgent_waiting(self) -> int:
        return self._size - self._routine_size

    @property
    def routine_waiting(self) -> int:
        return self._routine_size

    def has_room(self) -> bool:
        return self._size < self.maxsize

    def put(self, item: Item, received: float) -> Entry:
        """Queue `item` (arrived at `received`): the entry it went into, a new one or the one
        it was folded into. Call only with `has_room()`."""
        if isinstance(item, TelemetryItem):
            topic = item.topic
            if not self.triggers.urgent(
                topic.kind, equipment_key(topic.site, topic.equipment), item.telemetry
            ):
                return self._routine_put(item, received)
        entry = self._new(item, urgent=True, received=received)
        self._urgent.append(entry)
        if entry.key is not None:
            self._open.pop(entry.key, None)  # what follows goes behind it
        return entry

    def _new(self, item: Item, *, urgent: bool, received: float) -> Entry:
        self._order += 1
        self._size += 1
        ts = item.telemetry.ts if isinstance(item, TelemetryItem) else 0
        return Entry(item, urgent, received, self._order, first_ts=ts)

    def _routine_put(self, item: TelemetryItem, received: float) -> Entry:
        key = equipment_key(item.topic.site, item.topic.equipment)
        entry = self._open.get(key) if self.folding else None
        if entry is not None:
            assert isinstance(entry.item, TelemetryItem)
            merged = None
            if entry.item.topic == item.topic:
                merged = fold(
                    entry.item.telemetry,
                    item.telemetry,
                    first_ts=entry.first_ts,
                    windows=self.triggers.windows(item.topic.kind),
                )
            if merged is not None:
                entry.item = TelemetryItem(item.topic, merged)
                entry.messages += 1
                self.coalesced += 1
                return entry
        entry = self._new(item, urgent=False, received=received)
        self._routine.append(entry)
        self._routine_size += 1
        self._waiting.setdefault(key, deque()).append(entry)
        self._open[key] = entry
        return entry

    def take(self, n: int) -> list[Entry]:
        """Up to about `n` entries in the order to apply them: the urgent ones, each after
        the routine entries of its equipment that arrived before it (which may take the
        batch past `n`), and only those, so that their batch commits soon; else routine
        ones."""
        out: list[Entry] = []
        while self._urgent and len(out) < n:
            entry = self._urgent.popleft()
            key = entry.key
            waiting = self._waiting.get(key) if key is not None else None
            while waiting and waiting[0].order < entry.order:
                out.append(self._take_routine(waiting))
                self._stale += 1
            out.append(entry)
        if self._stale > self.maxsize:  # urgent ones keep taking routine ones from the middle
            self._routine = deque(e for e in self._routine if not e.taken)
            self._stale = 0
        if out:
            self._size -= len(out)
            return out
        while self._routine and len(out) < n:
            entry = self._routine.popleft()
            if entry.taken:
                self._stale -= 1
                continue
            key = entry.key
            assert key is not None
            out.append(self._take_routine(self._waiting[key]))
        self._size -= len(out)
        return out

    def put_back(self, entries: list[Entry]) -> None:
        """Queue again, in front, routine entries `take` gave (in that order) and that were
        not applied: a batch stopped before them, for an urgent entry that came meanwhile
        (they are still older than all their equipment's waiting ones, so it takes them
        first). Not folded into again; the bound may be passed by them for a moment."""
        for entry in reversed(entries):
            key = entry.key
            assert key is not None and not entry.urgent, "only routine entries go back"
            entry.taken = False
            self._routine.appendleft(entry)
            self._waiting.setdefault(key, deque()).appendleft(entry)
            self._routine_size += 1
            self._size += 1

    def _take_routine(self, waiting: deque[Entry]) -> Entry:
        entry = waiting.popleft()
        entry.taken = True
        self._routine_size -= 1
        key = entry.key
        assert key is not None
        if not waiting:
            del self._waiting[key]
        if self._open.get(key) is entry:
            del self._open[key]
        return entry

    def oldest_wait(self, now: float) -> float:
        """Seconds the oldest waiting message has waited (0 when none waits)."""
        while self._routine and self._routine[0].taken:
            self._routine.popleft()
            self._stale -= 1
        heads = [lane[0].received for lane in (self._urgent, self._routine) if lane]
        return max(0.0, now - min(heads)) if heads else 0.0


class Intake(IntakeQueue):
    """The queue with waiting: the receiver waits for room, the worker for entries."""

    def __init__(self, maxsize: int, triggers: Triggers) -> None:
        super().__init__(maxsize, triggers)
        self._ready = asyncio.Event()  # something was queued, or the intake closed
        self._space = asyncio.Event()  # something was taken
        self._closed = False
        # a lingering batch's wake-up and the entries that would fill it: put wakes it only
        # when they are queued, or at an urgent entry (one wake-up a batch, not a message)
        self._filled: asyncio.Future[None] | None = None
        self._wanted = 0

    def open(self) -> None:
        self._closed = False

    def close(self) -> None:
        """No more puts: `next_batch` gives what is queued, then an empty batch."""
        self._closed = True
        self._ready.set()
        self._wake()

    def put(self, item: Item, received: float) -> Entry:
        entry = super().put(item, received)
        self._ready.set()
        if self._filled is not None and (entry.urgent or len(self) >= self._wanted):
            self._wake()
        return entry

    def _wake(self) -> None:
        if self._filled is not None and not self._filled.done():
            self._filled.set_result(None)

    async def put_when_room(self, item: Item, clock: Callable[[], float]) -> Entry:
        """Wait for room, then put `item`, arrived now."""
        while not self.has_room():
            self._space.clear()
            await self._space.wait()
        return self.put(item, clock())

    def take(self, n: int) -> list[Entry]:
        out = super().take(n)
        if out:
            self._space.set()
        return out

    def put_back(self, entries: list[Entry]) -> None:
        super().put_back(entries)
        if entries:
            self._ready.set()

    def applied(self, batch: list[Entry], left: int) -> list[Entry]:
        """The entries of `batch` applied when its last `left` were not: those go back."""
        if not left:
            return batch
        self.put_back(batch[-left:])
        return batch[:-left]

    async def next_batch(self, n: int, linger: float, stopping: Callable[[], bool]) -> list[Entry]:
        """What is queued, in the order to apply it, up to about `n` entries, waiting up to
        `linger` seconds for more while it is short (not once `stopping()`, nor once it holds
        an urgent entry, which goes at once): many messages share one transaction at a
        steady rate. Empty once closed and drained."""
        while not len(self):
            if self._closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + linger
        batch = self.take(n)
        while len(batch) < n and not stopping() and not any(e.urgent for e in batch):
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closed:
                break
            if len(self) < n - len(batch):
                await self._until_filled(n - len(batch), remaining)
            batch += self.take(n - len(batch))
        return batch

    async def _until_filled(self, wanted: int, seconds: float) -> None:
        """Wait until `wanted` entries are queued, an urgent one is, the intake closes, or
        `seconds` have passed."""
        loop = asyncio.get_running_loop()
        self._filled = filled = loop.create_future()
        self._wanted = wanted
        self.folding = False
        timer = loop.call_later(seconds, self._wake)
        try:
            await filled
        finally:
            timer.cancel()
            self._filled = None
            self.folding = True
