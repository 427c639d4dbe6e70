"""What telemetry last said about each piece of equipment, as the monitor holds it.

The registry's live columns (`status`, `last_values`, `last_seen`, `last_ts`, `last_seq` of
`cloud.equipment.Equipment`) have one writer: the monitor, on its one thread (one cloud process
per share group, see docs/api.md). So it reads them once (`load`, at start and after a failed
batch) and keeps them here, with where each piece of equipment is registered, rather than
loading ORM rows for every batch:

* a sample changes only this copy and marks its equipment; at the end of the batch, in the
  batch's transaction, `write` stores marked equipment once, however many of its samples the
  batch held, in one executemany per statement shape (a sample whose values are the ones
  known already does not rewrite `last_values`);
* a marked piece of equipment is written with the batch when a state of it changed (a
  boolean or text value, a point appearing or becoming unavailable: an alarm bit, running or
  stopped, a mode), when an alarm of it was raised or cleared (`urge`), or when its row was
  last written `interval` seconds ago or more; otherwise, when only measurements moved, it
  stays marked and a later batch writes it (the rule tick's, each second, at the latest).
  So equipment reporting every second has its row written about once per interval rather
  than with every sample, and the registry lags the stream's measurements by at most the
  interval (and a tick); `flush` writes everything marked (at shutdown);
* a status change is written at once (`write_status`), and given to the session's object of
  that equipment if it holds one: the incident logic of the same batch counts lost devices by
  their status.

If the batch fails, its transaction rolls back and the monitor reloads this copy with the
rule engine, so neither keeps what was not committed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from cloud.clock import as_utc
from cloud.enums import EquipmentStatus
from cloud.equipment import Equipment, key

_TABLE = cast(Table, Equipment.__table__)
_SEEN: dict[str, Any] = {
    "last_seen": bindparam("b_seen"),
    "last_ts": bindparam("b_ts"),
    "last_seq": bindparam("b_seq"),
}
_ROW = (_TABLE.c.site == bindparam("b_site")) & (_TABLE.c.id == bindparam("b_id"))
_WRITE_SEEN = update(_TABLE).where(_ROW).values(**_SEEN)
_WRITE_STATUS = (
    update(_TABLE)
    .where(_ROW)
    .values(status=bindparam("b_status"), status_changed_at=bindparam("b_changed"))
)
_WRITE_VALUES = update(_TABLE).where(_ROW).values(last_values=bindparam("b_values"), **_SEEN)


@dataclass(slots=True)
class LiveEquipment:
    """One piece of equipment: where it is registered, and its live columns; `key` is its
    service-wide key (`cloud.equipment.key`), as the rule engine knows it."""

    key: str
    site: str
    id: str
    building: str
    kind: str
    status: EquipmentStatus
    values: dict[str, Any]
    last_seen: datetime | None = None
    seen_s: float | None = None  # last_seen in epoch seconds
    last_ts_ms: int | None = None  # the edge time of the last sample
    last_seq: int | None = None
    values_changed: bool = field(default=False, repr=False)
    # a state changed (see the module) or an alarm of it did: written with this batch
    prompt: bool = field(default=False, repr=False)
    written_s: float = field(default=-math.inf, repr=False)  # its row's last write (epoch s)

    def newest_s(self) -> float | None:
        """The time a sample must reach to be news (epoch seconds): the last sample's time,
        but never later than when it arrived, so a sample stamped ahead (a fast clock, a
        forged time) cannot make the real samples after it look old. None before any."""
        if self.last_ts_ms is None:
            return None
        last_ts = self.last_ts_ms / 1000
        return last_ts if self.seen_s is None else min(last_ts, self.seen_s)

    def take(self, values: Mapping[str, Any], *, ts_ms: int, seq: int, now: datetime) -> None:
        """A sample's values (merged over those known), times and sequence number."""
        known = self.values
        for name, value in values.items():
            old = known.get(name, _UNSET)
            if old is not value and (type(old) is not type(value) or old != value):
                known[name] = value
                self.values_changed = True
                if type(value) not in _MEASURES or type(old) not in _MEASURES:
                    self.prompt = True  # a state, not a measurement, changed
        self.last_seen = now
        self.seen_s = now.timestamp()
        self.last_ts_ms = ts_ms
        self.last_seq = seq


_UNSET = object()
_MEASURES = (int, float)  # a change of any other value (bool, str, None) is one of state


class LiveRegistry:
    """The live columns of the equipment in the inventory, by key; see the module. Rows are
    written at most every `interval` seconds but for changes of state (0: with every batch)."""

    def __init__(self, interval: float = 0.0) -> None:
        self.interval = interval
        self._rows: dict[str, LiveEquipment] = {}
        self._dirty: dict[str, LiveEquipment] = {}  # marked: took what is not written yet
        self._now: dict[str, LiveEquipment] = {}  # of those, due with the next write
        self._later: list[tuple[float, str]] = []  # the others: (when due, key), soonest first

    def load(self, session: Session, site: str | None = None) -> list[LiveEquipment]:
        """Read the equipment in the inventory (of `site` only, when given); returns it (and
        forgets what was marked)."""
        self._rows.clear()
        self._dirty.clear()
        self._now.clear()
        self._later.clear()
        tracked = select(Equipment).where(
            Equipment.in_inventory.is_(True), Equipment.connected.is_(True)
        )  # register-only assets have no telemetry
        if site is not None:
            tracked = tracked.where(Equipment.site == site)
        for row in session.scalars(tracked):
            last_seen = as_utc(row.last_seen) if row.last_seen is not None else None
            self._rows[key(row.site, row.id)] = LiveEquipment(
                key=key(row.site, row.id),
                site=row.site,
                id=row.id,
                building=row.building,
                kind=row.kind,
                status=row.status,
                values=dict(row.last_values),
                last_seen=last_seen,
                seen_s=last_seen.timestamp() if last_seen is not None else None,
                last_ts_ms=(
                    round(as_utc(row.last_ts).timestamp() * 1000)
                    if row.last_ts is not None
                    else None
                ),
                last_seq=row.last_seq,
            )
        return self.rows()

    def rows(self) -> list[LiveEquipment]:
        return list(self._rows.values())

    def get(self, equipment_key: str) -> LiveEquipment | None:
        return self._rows.get(equipment_key)

    def mark(self, live: LiveEquipment, now_s: float) -> None:
        """`live` has taken a sample at `now_s` (epoch seconds): written by a `write` when
        due (see the module)."""
        key_ = live.key
        if key_ in self._now:
            return
        if live.prompt or not live.written_s + self.interval > now_s >= live.written_s:
            self._now[key_] = live  # (a row written "ahead": the clock was set back)
        elif key_ not in self._dirty:
            heapq.heappush(self._later, (live.written_s + self.interval, key_))
        self._dirty[key_] = live

    def urge(self, equipment_key: str) -> None:
        """An alarm of this equipment was raised or cleared: what it took is written with
        the next write, so its row shows the values the alarm is about."""
        live = self._dirty.get(equipment_key)
        if live is not None:
            live.prompt = True
            self._now[equipment_key] = live

    def write_status(self, session: Session, live: LiveEquipment, now: datetime) -> None:
        """Store a status change at once, in `session`'s transaction; an `Equipment` object
        the session holds is given it too, as an ORM update would (without its per-statement
        cost, paid by every piece of equipment coming online at a start)."""
        session.execute(
            _WRITE_STATUS,
            {"b_site": live.site, "b_id": live.id, "b_status": live.status, "b_changed": now},
        )
        held = session.identity_map.get(identity_key(Equipment, (live.site, live.id)))
        if held is not None:
            set_committed_value(held, "status", live.status)
            set_committed_value(held, "status_changed_at", now)

    def write(self, session: Session, now_s: float, *, everything: bool = False) -> int:
        """Store what the marked equipment took and is due at `now_s` (epoch seconds; see
        the module), or `everything` marked, in `session`'s transaction; returns how many
        rows it wrote."""
        if everything:
            due = list(self._dirty.values())
        else:
            later = self._later
            while later and later[0][0] <= now_s:
                live = self._dirty.get(heapq.heappop(later)[1])
                if live is not None and live.written_s + self.interval <= now_s:
                    self._now[live.key] = live  # (else written since: its own entry waits)
            due = list(self._now.values())
        if not due:
            return 0
        with_values: list[dict[str, Any]] = []
        seen_only: list[dict[str, Any]] = []
        for live in due:
            row: dict[str, Any] = {
                "b_site": live.site,
                "b_id": live.id,
                "b_seen": live.last_seen,
                "b_ts": (
                    datetime.fromtimestamp(live.last_ts_ms / 1000, UTC)
                    if live.last_ts_ms is not None
                    else None
                ),
                "b_seq": live.last_seq,
            }
            if live.values_changed:
                row["b_values"] = live.values
                live.values_changed = False
                with_values.append(row)
            else:
                seen_only.append(row)
        if with_values:
            session.execute(_WRITE_VALUES, with_values)
        if seen_only:
            session.execute(_WRITE_SEEN, seen_only)
        for live in due:
            live.prompt = False
            live.written_s = now_s
            del self._dirty[live.key]
        self._now.clear()
        if not self._dirty:
            self._later.clear()
        return len(due)
