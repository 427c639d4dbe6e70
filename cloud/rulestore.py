"""Where the rule engine's state is saved, so that what must survive a restart (pending `for`
and `clear_for` timers, rate, trend and counter windows) is saved at the cost of what changed,
not of all of it.

* `rule_states`: one row per piece of equipment, its rule timers (`RuleEngine.snapshot`
  without the history); a row written before migration 0018 may still hold its history too.
* `rule_history`: per piece of equipment and point, its history cut into numbered parts of
  `PART_SAMPLES` samples. All but a point's last part are sealed: never written again, and
  deleted whole once the engine keeps none of their samples. Saving a point's history writes
  its last part (the samples after the sealed ones) and seals it whenever it outgrows a
  part, so a save costs the samples of about one part, however long the window.

This holds because the engine replaces only a point's newest sample and drops samples only
from the oldest end (`RuleEngine.history`): a part is sealed only while a newer sample stays
out of it, so a sealed sample can only leave by age. Two samples of the same time are never
split between parts, so "after the sealed ones" is a matter of time alone.

`load_snapshots` reads what was saved, in the shape `RuleEngine.restore` takes, for every
piece of equipment, of one site, or some; each keyed by its equipment's service-wide key
(`cloud.equipment.key`), as the engine knows it. `RuleStateStore` is the monitor's: `load`
learns which rows exist and which parts are sealed, `save` writes in the caller's
transaction and keeps that knowledge in step; after a transaction that failed, `load` again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from cloud.equipment import RuleHistory, RuleState, key, split
from cloud.rules.engine import RuleEngine
from cloud.rules.state import SNAPSHOT_VERSION

PART_SAMPLES = 64
READ_IDS = 500  # pieces of equipment in one query's IN list
_NEVER = float("-inf")  # the newest time of a part whose samples cannot be read

_STATES = cast(Table, RuleState.__table__)
_HISTORY = cast(Table, RuleHistory.__table__)
_UPDATE_STATE = (
    update(_STATES)
    .where(_STATES.c.site == bindparam("b_site"), _STATES.c.equipment_id == bindparam("b_id"))
    .values(data=bindparam("b_data"), saved_at=bindparam("b_at"))
)
_POINT = (
    (_HISTORY.c.site == bindparam("b_site"))
    & (_HISTORY.c.equipment_id == bindparam("b_id"))
    & (_HISTORY.c.point == bindparam("b_point"))
)
_UPDATE_PART = (
    update(_HISTORY)
    .where(_POINT, _HISTORY.c.part == bindparam("b_part"))
    .values(samples=bindparam("b_samples"))
)
_DELETE_SEALED = delete(_HISTORY).where(_POINT, _HISTORY.c.part <= bindparam("b_part"))
_DELETE_POINT = delete(_HISTORY).where(_POINT)


@dataclass(slots=True)
class Saved:
    """What is saved of one piece of equipment."""

    data: dict[str, Any]  # as `RuleEngine.snapshot` gives it, history included
    # point → its parts in order: (part, time of its newest sample)
    parts: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    timers_saved: bool = False  # it has a row in rule_states
    legacy: bool = False  # that row holds its history (saved before migration 0018)


def read(
    session: Session, equipment_keys: Collection[str] | None = None, *, site: str | None = None
) -> dict[str, Saved]:
    """What is saved, by equipment key: of every piece of equipment (of `site`, when given),
    or of those of `equipment_keys`, asked for `READ_IDS` at a time."""
    if equipment_keys is None:
        return _read(session, None, site)
    wanted = sorted({split(k) for k in equipment_keys})
    out: dict[str, Saved] = {}
    for start in range(0, len(wanted), READ_IDS):
        out.update(_read(session, wanted[start : start + READ_IDS], site))
    return out


def _read(
    session: Session, wanted: list[tuple[str, str]] | None, site: str | None
) -> dict[str, Saved]:
    s, h = _STATES.c, _HISTORY.c
    states = select(s.site, s.equipment_id, s.data)
    parts = select(h.site, h.equipment_id, h.point, h.part, h.samples).order_by(
        h.site, h.equipment_id, h.point, h.part
    )
    if wanted is not None:
        states = states.where(tuple_(s.site, s.equipment_id).in_(wanted))
        parts = parts.where(tuple_(h.site, h.equipment_id).in_(wanted))
    if site is not None:
        states, parts = states.where(s.site == site), parts.where(h.site == site)
    out: dict[str, Saved] = {}
    for row_site, equipment_id, data in session.execute(states):
        saved = Saved(dict(data) if isinstance(data, dict) else {}, timers_saved=True)
        saved.legacy = bool(saved.data.get("history"))
        out[key(row_site, equipment_id)] = saved
    histories: dict[str, dict[str, list[Any]]] = {}
    for row_site, row_id, point, part, samples in session.execute(parts):
        equipment_id = key(row_site, row_id)
        if equipment_id not in out:  # history saved, no timers row
            out[equipment_id] = Saved({"version": SNAPSHOT_VERSION, "rules": {}})
        saved = out[equipment_id]
        pairs = samples if isinstance(samples, list) else []
        histories.setdefault(equipment_id, {}).setdefault(point, []).extend(pairs)
        saved.parts.setdefault(point, []).append((part, _newest(pairs)))
    for equipment_id, history in histories.items():
        saved = out[equipment_id]
        saved.data["history"] = history  # the parts, not what an old row may hold
        saved.legacy = False
    return out


def load_snapshots(
    session: Session, equipment_keys: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The saved rule state of every piece of equipment (or of those of `equipment_keys`)
    that has one, by equipment key, each as `RuleEngine.restore` takes it."""
    return {k: saved.data for k, saved in read(session, equipment_keys).items()}


def _newest(samples: list[Any]) -> float:
    last = samples[-1] if samples else None
    if isinstance(last, list) and len(last) == 2 and isinstance(last[0], int | float):
        return float(last[0])
    return _NEVER


@dataclass(slots=True)
class _Point:
    """What is saved of one point's history."""

    sealed: deque[tuple[int, float]]  # (part, time of its newest sample), oldest first
    open_part: int  # the part the samples after the sealed ones go to
    open_saved: bool  # it has a row


@dataclass(slots=True)
class _Writes:
    states_new: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    parts_new: list[dict[str, Any]] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    sealed_gone: list[dict[str, Any]] = field(default_factory=list)
    points_gone: list[dict[str, Any]] = field(default_factory=list)

    def execute(self, session: Session) -> None:
        for statement, rows in (
            (_DELETE_POINT, self.points_gone),
            (_DELETE_SEALED, self.sealed_gone),
            (_UPDATE_STATE, self.states),
            (insert(_STATES), self.states_new),
            (_UPDATE_PART, self.parts),
            (insert(_HISTORY), self.parts_new),
        ):
            if rows:
                session.execute(statement, rows)


class RuleStateStore:
    """The monitor's writer of rule state; see the module."""

    def __init__(self, part_samples: int = PART_SAMPLES) -> None:
        if part_samples < 2:
            raise ValueError("part_samples must be at least 2")
        self._part_samples = part_samples
        self._timers_saved: set[str] = set()
        self._legacy: set[str] = set()
        self._points: dict[str, dict[str, _Point]] = {}

    def load(self, session: Session, site: str | None = None) -> dict[str, dict[str, Any]]:
        """Everything saved (of `site` when given), as `load_snapshots`; and learn what is
        saved."""
        everything = read(session, site=site)
        self._timers_saved = {e for e, saved in everything.items() if saved.timers_saved}
        self._legacy = {e for e, saved in everything.items() if saved.legacy}
        self._points = {}
        for equipment_id, saved in everything.items():
            points = self._points[equipment_id] = {}
            for point, parts in saved.parts.items():
                points[point] = _Point(deque(parts[:-1]), parts[-1][0], open_saved=True)
        return {equipment_id: saved.data for equipment_id, saved in everything.items()}

    def save(
        self,
        session: Session,
        engine: RuleEngine,
        *,
        timers: Collection[str],
        history: Collection[str],
        now: datetime,
    ) -> int:
        """Save the rule timers of `timers` and the history of `history` (equipment the
        engine does not track is left out), in `session`'s transaction. Returns how many pieces
        of equipment it saved something of."""
        # a row still holding history is rewritten only with that history moved to parts
        history_due = set(history) | (self._legacy & set(timers))
        timers_due = set(timers) | (self._legacy & history_due)
        writes = _Writes()
        for equipment_id in timers_due:
            if not engine.tracked(equipment_id):
                continue
            data = engine.snapshot(equipment_id, history=False)
            site, row_id = split(equipment_id)
            if equipment_id in self._timers_saved:
                writes.states.append({"b_site": site, "b_id": row_id, "b_data": data, "b_at": now})
            else:
                row = {"site": site, "equipment_id": row_id, "data": data, "saved_at": now}
                writes.states_new.append(row)
                self._timers_saved.add(equipment_id)
            self._legacy.discard(equipment_id)
        for equipment_id in history_due:
            if engine.tracked(equipment_id):
                self._history(writes, equipment_id, engine.history(equipment_id))
        writes.execute(session)
        return sum(1 for e in timers_due | history_due if engine.tracked(e))

    def _history(
        self,
        writes: _Writes,
        equipment_id: str,
        history: Mapping[str, Sequence[tuple[float, float]]],
    ) -> None:
        points = self._points.setdefault(equipment_id, {})
        site, row_id = split(equipment_id)
        for point in [p for p in points if not history.get(p)]:
            writes.points_gone.append({"b_site": site, "b_id": row_id, "b_point": point})
            del points[point]
        for point, samples in history.items():
            if not samples:
                continue
            saved = points.get(point)
            if saved is None:
                saved = points[point] = _Point(deque(), 0, open_saved=False)
            oldest, gone = samples[0][0], None
            while saved.sealed and saved.sealed[0][1] < oldest:
                gone = saved.sealed.popleft()[0]
            if gone is not None:
                writes.sealed_gone.append(
                    {"b_site": site, "b_id": row_id, "b_point": point, "b_part": gone}
                )
            tail = _after(samples, saved.sealed[-1][1] if saved.sealed else None)
            start = 0
            while len(tail) - start > self._part_samples:
                end = start + self._part_samples
                while end < len(tail) and tail[end][0] == tail[end - 1][0]:
                    end += 1  # samples of one time stay in one part
                if end >= len(tail):
                    break  # the newest sample is never sealed: it may yet be replaced
                self._write(writes, equipment_id, point, saved, tail[start:end])
                saved.sealed.append((saved.open_part, tail[end - 1][0]))
                saved.open_part += 1
                saved.open_saved = False
                start = end
            self._write(writes, equipment_id, point, saved, tail[start:])

    @staticmethod
    def _write(
        writes: _Writes,
        equipment_id: str,
        point: str,
        saved: _Point,
        samples: list[tuple[float, float]],
    ) -> None:
        site, row_id = split(equipment_id)
        if saved.open_saved:
            writes.parts.append(
                {
                    "b_site": site,
                    "b_id": row_id,
                    "b_point": point,
                    "b_part": saved.open_part,
                    "b_samples": samples,
                }
            )
        else:
            writes.parts_new.append(
                {
                    "site": site,
                    "equipment_id": row_id,
                    "point": point,
                    "part": saved.open_part,
                    "samples": samples,
                }
            )
            saved.open_saved = True


def _after(
    samples: Sequence[tuple[float, float]], boundary: float | None
) -> list[tuple[float, float]]:
    """The samples newer than `boundary` (all of them if None), oldest first; walked from the
    newest end, so it costs the samples it returns."""
    if boundary is None:
        return list(samples)
    out: list[tuple[float, float]] = []
    for sample in reversed(samples):
        if sample[0] <= boundary:
            break
        out.append(sample)
    out.reverse()
    return out
