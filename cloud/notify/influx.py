"""Work-order events and metrics into InfluxDB, through the v1 `/write` endpoint that every
InfluxDB line serves, in the schema the Grafana dashboards query (dashboards/measurements.py):

    events       tags site, building, equipment, type (wo_raised | wo_acknowledged |
                 wo_resolved | alarm_raised | alarm_cleared | maintenance); fields text,
                 priority; a maintenance window also `time_end_ms` (its end, epoch ms)
    work_orders  tags site, building, priority, kind; integer fields open, acknowledged,
                 in_progress, overdue; float fields mtta_s, mttr_s, sla_compliance_pct,
                 dispatched_pct, ack_in_dispatch_pct, equipment_good_pct, fire_good_pct,
                 lighting_good_pct, follow_up_pct, complaint_pct, satisfaction

`open` counts every job not yet resolved (open, acknowledged, in progress or on hold).
Metrics are written for every (building, priority, kind) every interval, zeros included, so a
panel's latest value is always current. Rates are over the jobs raised in the trailing
`metrics_window_days`; the good-order percentages and the service desk's figures (follow-up
visits, upheld complaints, reporters' satisfaction) are the building's, repeated on each of
its points. Timestamps are milliseconds; a point written twice at the same time replaces
itself, so a redelivery never duplicates. Lines are encoded and written by `plantroom.influx`,
as the gateway's are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.enums import Priority, WorkOrderKind
from cloud.equipment import Equipment
from cloud.maintenance import service as maintenance
from cloud.notify.config import NotifyConfig
from cloud.notify.events import Outgoing
from cloud.notify.pump import Permanent, Retryable
from cloud.sla import Targets
from plantroom.influx.errors import InfluxUnavailable
from plantroom.influx.lineprotocol import LineProtocolError, encode_line
from plantroom.influx.measurements import EVENTS, HEALTH, WORK_ORDERS
from plantroom.influx.writer import InfluxTarget, InfluxWriter

log = logging.getLogger(__name__)


def line(
    measurement: str,
    tags: Mapping[str, str | None],
    fields: Mapping[str, int | float | str | bool | None],
    at: datetime,
) -> str:
    """One point; empty tags and None fields are left out (line protocol has no nulls).
    Raises LineProtocolError (a ValueError) for a name or value line protocol cannot carry."""
    present = {k: v for k, v in tags.items() if v}
    return encode_line(measurement, present, fields, int(at.timestamp() * 1000))


def event_lines(event: Outgoing) -> list[str]:
    wo = event.work_order
    tags = {
        "site": event.site,
        "building": wo.get("building"),
        "equipment": wo.get("equipment_id"),
    }
    return [
        line(
            EVENTS,
            {**tags, "type": kind},
            {"text": event.summary(), "priority": str(wo["priority"])},
            event.at,
        )
        for kind in event.influx_types()
    ]


# the building's own figures, the same on each of its (priority, kind) points
BUILDING_FIGURES = (
    "equipment_good_pct",
    "fire_good_pct",
    "lighting_good_pct",
    "follow_up_pct",
    "complaint_pct",
    "satisfaction",
)


def metric_lines(
    site: str,
    building: str,
    jobs: Sequence[kpi.Job],
    live: Sequence[kpi.Job],
    open_repairs: Sequence[kpi.Job],
    equipment: Sequence[kpi.Equip],
    *,
    now: datetime,
    start: datetime,
    targets: Targets,
    dispatch_s: float = kpi.DISPATCH_S,
    desk: kpi.DeskFacts | None = None,
) -> list[str]:
    """The `work_orders` points of one building, one per priority and kind: counts of the
    `live` jobs now, rates of the `jobs` raised since `start`, and the building's good-order
    figures from `open_repairs`."""
    report = kpi.evaluate(
        jobs,
        open_repairs,
        equipment,
        building=building,
        start=start,
        end=now,
        now=now,
        targets=targets,
        dispatch_s=dispatch_s,
        desk=desk,
    )
    building_figures = report.values()
    out = []
    for priority in Priority:
        for kind in WorkOrderKind:
            mine = [j for j in jobs if j.priority is priority and j.kind is kind]
            current = [j for j in live if j.priority is priority and j.kind is kind]
            fields: dict[str, int | float | None] = {
                "open": len(current),
                "acknowledged": sum(1 for j in current if j.status.value == "acknowledged"),
                "in_progress": sum(1 for j in current if j.status.value == "in_progress"),
                "overdue": sum(1 for j in current if j.overdue_at(now)),
                "mtta_s": kpi.mean_time_to_acknowledge(mine).value,
                "mttr_s": kpi.mean_time_to_repair(mine).value,
                "sla_compliance_pct": kpi.sla_compliance(mine, now).value,
                "dispatched_pct": kpi.dispatched_in_time(mine, now, dispatch_s).value,
                "ack_in_dispatch_pct": kpi.acknowledged_in_time(mine, now, dispatch_s).value,
            }
            for name in BUILDING_FIGURES:
                fields[name] = building_figures[name]
            tags = {
                "site": site,
                "building": building,
                "priority": priority.value,
                "kind": kind.value,
            }
            out.append(line(WORK_ORDERS, tags, fields, now))
    return out


def collect_metrics(
    session: Session,
    *,
    site: str,
    now: datetime,
    window: timedelta,
    targets: Targets,
    dispatch_s: float = kpi.DISPATCH_S,
) -> list[str]:
    """The `work_orders` points of every building, now, and the maintenance windows of the
    trailing `window` as `events` points."""
    start = now - window
    buildings = sorted(
        session.scalars(
            select(Equipment.building).where(Equipment.in_inventory.is_(True)).distinct()
        ).all()
    )
    out: list[str] = []
    for building in buildings:
        try:
            lines = metric_lines(
                site,
                building,
                kpi.load_jobs(session, building=building, start=start, end=now),
                kpi.load_live(session, building=building),
                kpi.load_open_repairs(session, building=building, at=now),
                kpi.load_equipment(session, building=building, at=now),
                now=now,
                start=start,
                targets=targets,
                dispatch_s=dispatch_s,
                desk=kpi.load_desk(session, building=building, start=start, end=now),
            )
        except LineProtocolError as exc:  # a building id line protocol cannot carry
            log.error("work-order metrics of building %r not written: %s", building, exc)
            continue
        out.extend(lines)
    out.extend(maintenance_lines(session, site=site, since=start))
    return out


def maintenance_lines(session: Session, *, site: str, since: datetime) -> list[str]:
    """An `events` point (type `maintenance`) at the start of each window that ended after
    `since` or has not ended, per piece of equipment it covers (a building's window: each of
    its equipment), with its end in `time_end_ms`: a region annotation in Grafana. Written
    with every metrics write, so a window ended early is redrawn (same series and time: the
    point replaces itself)."""
    out: list[str] = []
    for window, equipment in maintenance.annotated(session, since=since):
        end = window.until
        text = f"In maintenance until {end.isoformat(timespec='minutes')}: {window.reason}"
        for equipment_id, building in equipment:
            try:
                out.append(
                    line(
                        EVENTS,
                        {
                            "site": site,
                            "building": building,
                            "equipment": equipment_id,
                            "type": "maintenance",
                        },
                        {
                            "text": f"{text} ({window.created_by})",
                            "time_end_ms": int(end.timestamp() * 1000),
                        },
                        window.starts_at,
                    )
                )
            except LineProtocolError as exc:
                log.error("maintenance window %d not written: %s", window.id, exc)
    return out


def intake_line(site: str, instance: str, fields: Mapping[str, int | float], at: datetime) -> str:
    """The cloud telemetry intake's `plantroom_health` line (component `cloud`), which the
    pipeline board reads (`cloud.intake.health_fields`)."""
    return line(HEALTH, {"component": "cloud", "instance": instance, "site": site}, fields, at)


# -- writing ------------------------------------------------------------------------------------


def influx_target(config: NotifyConfig) -> InfluxTarget:
    c = config
    return InfluxTarget(
        url=c.influx_url,
        database=c.influx_database,
        retention_policy=c.influx_retention_policy,
        username=c.influx_username,
        password=c.influx_password,
        token=c.influx_token,
        create_database=c.influx_create_database,
    )


async def write(writer: InfluxWriter, lines: Sequence[str]) -> None:
    """Write through the InfluxDB writer, its outcome as the pump's delivery errors: InfluxDB
    away is `Retryable`; lines it refuses are `Permanent` (the others are written)."""
    try:
        report = await writer.write(lines)
    except InfluxUnavailable as exc:
        raise Retryable(str(exc)) from exc
    if report.rejected:
        first = report.rejected[0]
        raise Permanent(
            f"InfluxDB refused {len(report.rejected)} of {len(lines)} lines (the rest are "
            f"written), first {first.line[:200]!r}: {first.reason}"
        )


class InfluxEventsSink:
    batch = 500

    def __init__(self, writer: InfluxWriter) -> None:
        self.name = f"influxdb events {writer.url}"
        self._writer = writer

    def wants(self, event: Outgoing) -> bool:
        return bool(event.influx_types())

    async def deliver(self, events: list[Outgoing]) -> None:
        """Write the events' points. An event line protocol cannot carry (a tag value with a
        line break, say) is logged and skipped: no retry would write it, and the rest of the
        batch must not wait for it."""
        lines: list[str] = []
        for event in events:
            try:
                lines.extend(event_lines(event))
            except LineProtocolError as exc:
                log.error("%s: skipped event %d: %s", self.name, event.event_id, exc)
        if lines:
            await write(self._writer, lines)
