"""The rules of a maintenance window, as pure functions of plain facts: what a new window may
be, and which window covers a piece of equipment at a time (`Board`, kept in memory so the
fault path asks it without a query)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cloud.errors import InvalidInput

if TYPE_CHECKING:
    from cloud.maintenance.model import MaintenanceWindow

MIN_REASON = 3
MAX_REASON = 500
MIN_DURATION = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Window:
    """What the fault path needs of a window: what it covers and when."""

    id: int
    equipment_id: str | None
    building: str | None
    starts_at: datetime
    until: datetime  # the planned end, or when it was ended early
    reason: str
    created_by: str
    site: str | None = None  # of the equipment or building (equipment ids are per site)

    def covers(
        self, equipment_id: str, building: str, at: datetime, site: str | None = None
    ) -> bool:
        mine = (self.equipment_id == equipment_id and self.site == site) or (
            self.equipment_id is None and self.building == building
        )
        return mine and self.starts_at <= at < self.until

    @classmethod
    def of(cls, row: MaintenanceWindow) -> Window:
        return cls(
            id=row.id,
            equipment_id=row.equipment_id,
            building=row.building,
            starts_at=row.starts_at,
            until=row.until,
            reason=row.reason,
            created_by=row.created_by,
            site=row.site,
        )


def check_reason(reason: str) -> str:
    """The reason, stripped; InvalidInput when it says too little or too much."""
    text = reason.strip()
    if len(text) < MIN_REASON:
        raise InvalidInput(
            f"reason: say why the equipment is in maintenance (at least {MIN_REASON} characters)"
        )
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters, got {len(text)}")
    return text


def check_times(
    starts_at: datetime,
    ends_at: datetime,
    *,
    now: datetime,
    max_duration: timedelta,
    past_skew: timedelta,
) -> None:
    """A new window starts no earlier than `now - past_skew`, ends after it starts, lasts at
    least `MIN_DURATION` and at most `max_duration`, and does not start further ahead than
    one year."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("starts_at, ends_at: give times with a time zone (e.g. ...Z)")
    if starts_at < now - past_skew:
        raise InvalidInput(
            f"starts_at: {starts_at.isoformat()} is in the past; a window starts now or later "
            f"(up to {int(past_skew.total_seconds())} s ago is taken as now)"
        )
    if starts_at > now + timedelta(days=366):
        raise InvalidInput(f"starts_at: {starts_at.isoformat()} is more than a year ahead")
    if ends_at <= starts_at:
        raise InvalidInput(
            f"ends_at: {ends_at.isoformat()} is not after starts_at {starts_at.isoformat()}"
        )
    length = ends_at - starts_at
    if length < MIN_DURATION:
        raise InvalidInput(f"ends_at: a window lasts at least {MIN_DURATION}, this one {length}")
    if length > max_duration:
        raise InvalidInput(
            f"ends_at: a window lasts at most {max_duration.days} days "
            f"(PLANTROOM_MAINTENANCE_MAX_DAYS), this one {length}"
        )


class Board:
    """The windows not yet settled (coming, running, or over but not yet applied), in memory.

    The fault path reads it on the telemetry thread without a lock: every change replaces the
    whole snapshot (a dict read is atomic). Writers (the API after a commit, the runner after
    a reload) take a lock so that a reload started before a change cannot overwrite it."""

    def __init__(self) -> None:
        self._windows: dict[int, Window] = {}
        self._by_equipment: dict[tuple[str | None, str], tuple[Window, ...]] = {}
        self._by_building: dict[str, tuple[Window, ...]] = {}
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._windows)

    def windows(self) -> list[Window]:
        return list(self._windows.values())

    def get(self, window_id: int) -> Window | None:
        return self._windows.get(window_id)

    def replace(self, windows: Iterable[Window]) -> None:
        """Hold exactly `windows` (the caller holds `lock`)."""
        by_id = {w.id: w for w in windows}
        by_equipment: dict[tuple[str | None, str], list[Window]] = {}
        by_building: dict[str, list[Window]] = {}
        for w in by_id.values():
            if w.equipment_id is not None:
                by_equipment.setdefault((w.site, w.equipment_id), []).append(w)
            elif w.building is not None:
                by_building.setdefault(w.building, []).append(w)
        self._by_equipment = {k: tuple(v) for k, v in by_equipment.items()}
        self._by_building = {k: tuple(v) for k, v in by_building.items()}
        self._windows = by_id

    def put(self, window: Window) -> None:
        with self.lock:
            self.replace([*(w for w in self._windows.values() if w.id != window.id), window])

    def drop(self, ids: Iterable[int]) -> None:
        gone = set(ids)
        with self.lock:
            self.replace(w for w in self._windows.values() if w.id not in gone)

    def covering(
        self,
        equipment_id: str,
        building: str,
        at: datetime,
        *,
        site: str | None = None,
        skip: frozenset[int] = frozenset(),
    ) -> Window | None:
        """The window that holds the alarms of this equipment (of `site`) at `at` (the one
        running longest when several do), or None."""
        found: Window | None = None
        mine = self._by_equipment.get((site, equipment_id), ())
        for w in (*mine, *self._by_building.get(building, ())):
            if w.id in skip or not w.covers(equipment_id, building, at, site):
                continue
            if found is None or w.until > found.until:
                found = w
        return found

    def due(self, at: datetime) -> list[Window]:
        """The windows over at `at`, whose end is still to be applied."""
        return sorted((w for w in self._windows.values() if w.until <= at), key=lambda w: w.id)
