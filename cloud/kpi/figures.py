"""The indicators managers report, as pure functions of plain job and equipment facts
(`cloud.kpi.load` reads those facts from the database).

A job belongs to the period in which it was raised (`created_at` in `[start, end)`). Jobs
whose outcome is not known yet (not resolved and not yet due) count in no rate. The
definitions, with worked examples, are in docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.assets.kinds import good_order_kinds
from cloud.enums import Priority, WorkOrderKind, WorkOrderStatus
from cloud.locale import N_
from cloud.sla import Targets

S = WorkOrderStatus
REPAIRS = frozenset({WorkOrderKind.FAULT, WorkOrderKind.REQUEST})
LIVE = frozenset({S.OPEN, S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD})
# register-only assets count too: extinguishers, hydrants, emergency lights (cloud.assets.kinds)
FIRE_KINDS = frozenset({"fire_panel"}) | good_order_kinds("fire")
LIGHTING_KINDS = frozenset({"lighting"}) | good_order_kinds("lighting")
DISPATCH_S = 180.0  # the shipped sla.yaml's `dispatch`


@dataclass(frozen=True, slots=True)
class Job:
    """What the indicators need to know of one work order."""

    id: int
    kind: WorkOrderKind
    priority: Priority
    status: WorkOrderStatus
    created_at: datetime
    opened_at: datetime  # start of the current episode: creation, or the last reopen
    building: str | None = None
    equipment_id: str | None = None
    equipment_kind: str | None = None
    acknowledged_at: datetime | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    respond_due_at: datetime | None = None
    start_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    pm_due_at: datetime | None = None  # a PM job's due date; its completion deadline
    reopens: int = 0
    follow_up: bool = False
    told: bool = False  # someone was to be told by message (an outbox row)
    first_sent_at: datetime | None = None  # the first message about it delivered

    @property
    def finished_at(self) -> datetime | None:
        """When the job stopped needing work (fixed or cancelled), if it has."""
        return self.resolved_at or self.cancelled_at or self.closed_at

    @property
    def due_at(self) -> datetime | None:
        """The completion deadline: the promised completion (for a PM job the end of its due
        day, as the PM scheduler sets it), else the end of a PM job's due day in UTC."""
        return self.resolve_due_at or self.pm_due_at

    def open_at(self, at: datetime) -> bool:
        """The job was open (needing work) at `at`."""
        finished = self.finished_at
        return self.opened_at <= at and (finished is None or finished > at)

    def overdue_at(self, now: datetime) -> bool:
        """Live with a clock past due: not acknowledged, not on site or not done in time."""
        if self.status not in LIVE:
            return False
        late = [
            (self.respond_due_at, self.acknowledged_at),
            (self.start_due_at, self.started_at),
            (self.resolve_due_at, self.resolved_at),
        ]
        return any(due is not None and done is None and due <= now for due, done in late)


@dataclass(frozen=True, slots=True)
class Equip:
    id: str
    kind: str
    building: str
    in_maintenance: bool = False  # in a maintenance window at the moment measured


@dataclass(frozen=True, slots=True)
class Figure:
    """A rate (`100 * numerator / denominator`) or a mean (`numerator / denominator`); `value`
    is None when there is nothing to measure."""

    value: float | None
    numerator: float
    denominator: int

    @classmethod
    def rate(cls, hits: int, total: int) -> Figure:
        return cls(None if total == 0 else 100.0 * hits / total, float(hits), total)

    @classmethod
    def mean(cls, values: Sequence[float]) -> Figure:
        total = float(sum(values))
        return cls(None if not values else total / len(values), total, len(values))


def _repairs(jobs: Iterable[Job]) -> list[Job]:
    return [j for j in jobs if j.kind in REPAIRS and j.status is not S.CANCELLED]


def mean_time_to_acknowledge(jobs: Iterable[Job]) -> Figure:
    """MTTA in seconds: repairs acknowledged, from (re)opening to acknowledgement."""
    return Figure.mean(
        [
            (j.acknowledged_at - j.opened_at).total_seconds()
            for j in _repairs(jobs)
            if j.acknowledged_at is not None
        ]
    )


def mean_time_to_repair(jobs: Iterable[Job]) -> Figure:
    """MTTR in seconds: repairs resolved, from (re)opening to resolution."""
    return Figure.mean(
        [
            (j.resolved_at - j.opened_at).total_seconds()
            for j in _repairs(jobs)
            if j.resolved_at is not None
        ]
    )


def sla_compliance(jobs: Iterable[Job], now: datetime) -> Figure:
    """Timely-repair rate: of repairs whose outcome is known (resolved, or unresolved past
    their promised completion at `now`), the share resolved by the promised completion."""
    hits = total = 0
    for j in _repairs(jobs):
        due = j.resolve_due_at
        if due is None:
            continue
        if j.resolved_at is not None:
            total += 1
            hits += j.resolved_at <= due
        elif due < now:
            total += 1
    return Figure.rate(hits, total)


def good_order(
    equipment: Iterable[Equip],
    jobs: Iterable[Job],
    at: datetime,
    kinds: frozenset[str] | None = None,
) -> Figure:
    """Share of equipment (of `kinds`, or all) with no repair job open at `at`. Equipment in
    maintenance is neither good nor bad: it is left out (`in_maintenance` counts it)."""
    chosen = [e for e in equipment if (kinds is None or e.kind in kinds) and not e.in_maintenance]
    # by building and id: an id is unique within its site, and a building is of one site
    faulty = {(j.building, j.equipment_id) for j in _repairs(jobs) if j.open_at(at)}
    good = sum(1 for e in chosen if not {(e.building, e.id), (None, e.id)} & faulty)
    return Figure.rate(good, len(chosen))


def in_maintenance(equipment: Iterable[Equip]) -> Figure:
    """Share of equipment in a maintenance window at the moment measured, shown beside the
    good-order figures (which leave it out)."""
    chosen = list(equipment)
    return Figure.rate(sum(1 for e in chosen if e.in_maintenance), len(chosen))


def pm_compliance(jobs: Iterable[Job], now: datetime) -> Figure:
    """Of PM jobs whose outcome is known (done, or not done past due at `now`), the share
    done by their due date."""
    hits = total = 0
    for j in jobs:
        if j.kind is not WorkOrderKind.PM or j.status is S.CANCELLED or j.due_at is None:
            continue
        if j.resolved_at is not None:
            total += 1
            hits += j.resolved_at <= j.due_at
        elif j.due_at < now:
            total += 1
    return Figure.rate(hits, total)


def repeat_fault_rate(jobs: Iterable[Job]) -> Figure:
    """Of fault jobs fixed at least once, the share reopened because the fault came back
    (repair quality pass rate = 100 - this)."""
    fixed = [
        j
        for j in jobs
        if j.kind is WorkOrderKind.FAULT
        and j.status is not S.CANCELLED
        and (j.resolved_at is not None or j.reopens > 0)
    ]
    return Figure.rate(sum(1 for j in fixed if j.reopens > 0), len(fixed))


def follow_up_rate(jobs: Iterable[Job]) -> Figure:
    """Of repairs resolved, the share with a follow-up visit recorded."""
    done = [j for j in _repairs(jobs) if j.resolved_at is not None]
    return Figure.rate(sum(1 for j in done if j.follow_up), len(done))


def _within(
    jobs: Iterable[Job],
    now: datetime,
    dispatch_s: float,
    step: Callable[[Job], tuple[datetime, datetime | None]],
) -> Figure:
    """Of jobs someone was to be told of by message (not cancelled), whose `step` (from,
    done) is known at `now` (done, or not done `dispatch_s` after from), the share done
    within `dispatch_s`."""
    hits = total = 0
    for j in jobs:
        if not j.told or j.status is S.CANCELLED:
            continue
        begun, done = step(j)
        late = begun + timedelta(seconds=dispatch_s)
        if done is not None:
            total += 1
            hits += done <= late
        elif late < now:
            total += 1
    return Figure.rate(hits, total)


def dispatched_in_time(jobs: Iterable[Job], now: datetime, dispatch_s: float) -> Figure:
    """The share whose first message was delivered within `dispatch_s` of raising."""
    return _within(jobs, now, dispatch_s, lambda j: (j.created_at, j.first_sent_at))


def acknowledged_in_time(jobs: Iterable[Job], now: datetime, dispatch_s: float) -> Figure:
    """The share acknowledged within `dispatch_s` of (re)opening."""
    return _within(jobs, now, dispatch_s, lambda j: (j.opened_at, j.acknowledged_at))


@dataclass(frozen=True, slots=True)
class DeskFacts:
    """What the service desk recorded for a period: complaints received in it and upheld,
    and the satisfaction scores (1 to 5) of follow-up calls about jobs raised in it."""

    valid_complaints: int = 0
    satisfaction: tuple[int, ...] = ()


def complaint_rate(jobs: Iterable[Job], desk: DeskFacts | None) -> Figure:
    """Upheld complaints received in the period per repair raised in it, in percent."""
    if desk is None:
        return Figure(None, 0.0, 0)
    return Figure.rate(desk.valid_complaints, len(_repairs(jobs)))


def satisfaction(desk: DeskFacts | None) -> Figure:
    """The mean score (1 to 5) reporters gave on follow-up calls."""
    return Figure.mean([float(s) for s in desk.satisfaction] if desk is not None else [])


@dataclass(frozen=True, slots=True)
class Counts:
    raised: int
    open: int
    acknowledged: int
    in_progress: int
    on_hold: int
    resolved: int
    closed: int
    cancelled: int
    overdue: int
    reopened: int


def counts(jobs: Iterable[Job], now: datetime) -> Counts:
    """How many of `jobs` are in each status now, overdue now, and were ever reopened."""
    items = list(jobs)

    def n(status: WorkOrderStatus) -> int:
        return sum(1 for j in items if j.status is status)

    return Counts(
        raised=len(items),
        open=n(S.OPEN),
        acknowledged=n(S.ACKNOWLEDGED),
        in_progress=n(S.IN_PROGRESS),
        on_hold=n(S.ON_HOLD),
        resolved=n(S.RESOLVED),
        closed=n(S.CLOSED),
        cancelled=n(S.CANCELLED),
        overdue=sum(1 for j in items if j.overdue_at(now)),
        reopened=sum(1 for j in items if j.reopens > 0),
    )


# -- the report of a period: key → (name, unit, `Targets` attribute or None, higher is better);
# the names are marked for the message catalog (`cloud.locale`), translated where shown -------
DEFINITIONS: dict[str, tuple[str, str, str | None, bool]] = {
    "mtta_s": (N_("Mean time to acknowledge"), "s", None, False),
    "mttr_s": (N_("Mean time to repair"), "s", None, False),
    "sla_compliance_pct": (N_("Repairs completed on time"), "%", "sla_compliance_pct", True),
    "equipment_good_pct": (N_("Equipment in good order"), "%", "equipment_good_pct", True),
    "fire_good_pct": (N_("Fire facilities in good order"), "%", "fire_good_pct", True),
    "lighting_good_pct": (N_("Lighting in good order"), "%", "lighting_good_pct", True),
    "maintenance_pct": (N_("Equipment in maintenance"), "%", None, False),
    "pm_compliance_pct": (N_("Preventive maintenance on time"), "%", "pm_compliance_pct", True),
    "repeat_fault_pct": (N_("Repeat faults (rework)"), "%", "repeat_fault_pct", False),
    "follow_up_pct": (N_("Follow-up visits after repairs"), "%", "follow_up_pct", True),
    "dispatched_pct": (N_("Jobs told within the dispatch time"), "%", None, True),
    "ack_in_dispatch_pct": (N_("Jobs acknowledged within the dispatch time"), "%", None, True),
    "complaint_pct": (N_("Upheld complaints per repair"), "%", "complaint_pct", False),
    "satisfaction": (N_("Reporters' satisfaction (1 to 5)"), "score", None, True),
}


@dataclass(frozen=True, slots=True)
class Indicator:
    key: str
    name: str
    unit: str
    figure: Figure
    target: float | None
    higher_is_better: bool

    @property
    def met(self) -> bool | None:
        """Whether the figure meets its target; None without a target or a figure."""
        value = self.figure.value
        if self.target is None or value is None:
            return None
        return value >= self.target if self.higher_is_better else value <= self.target


@dataclass(frozen=True, slots=True)
class Report:
    building: str | None
    start: datetime
    end: datetime
    as_of: datetime
    counts: Counts
    indicators: dict[str, Indicator]

    def values(self) -> dict[str, float | None]:
        return {k: i.figure.value for k, i in self.indicators.items()}


def evaluate(
    jobs: Sequence[Job],
    open_jobs: Sequence[Job],
    equipment: Sequence[Equip],
    *,
    building: str | None,
    start: datetime,
    end: datetime,
    now: datetime,
    targets: Targets,
    dispatch_s: float = DISPATCH_S,
    desk: DeskFacts | None = None,
) -> Report:
    """Every indicator for the jobs raised in `[start, end)`; good order is measured among
    `open_jobs` (jobs open at the end of the period, whenever raised) at `min(end, now)`;
    `dispatch_s` is the SLA's dispatch time (`dispatch` in sla.yaml); the complaint rate and
    satisfaction from `desk` (nothing measured without it)."""
    as_of = min(end, now)
    figures = {
        "mtta_s": mean_time_to_acknowledge(jobs),
        "mttr_s": mean_time_to_repair(jobs),
        "sla_compliance_pct": sla_compliance(jobs, now),
        "equipment_good_pct": good_order(equipment, open_jobs, as_of),
        "fire_good_pct": good_order(equipment, open_jobs, as_of, FIRE_KINDS),
        "lighting_good_pct": good_order(equipment, open_jobs, as_of, LIGHTING_KINDS),
        "maintenance_pct": in_maintenance(equipment),
        "pm_compliance_pct": pm_compliance(jobs, now),
        "repeat_fault_pct": repeat_fault_rate(jobs),
        "follow_up_pct": follow_up_rate(jobs),
        "dispatched_pct": dispatched_in_time(jobs, now, dispatch_s),
        "ack_in_dispatch_pct": acknowledged_in_time(jobs, now, dispatch_s),
        "complaint_pct": complaint_rate(jobs, desk),
        "satisfaction": satisfaction(desk),
    }
    indicators = {}
    for key, figure in figures.items():
        name, unit, target_attr, higher = DEFINITIONS[key]
        target = getattr(targets, target_attr) if target_attr else None
        indicators[key] = Indicator(key, name, unit, figure, target, higher)
    return Report(building, start, end, as_of, counts(jobs, now), indicators)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """`2026-11` → the first instants (UTC) of that month and of the next."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"month {month!r}: expected YYYY-MM, e.g. 2026-11") from None
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return start, end
