"""Work-order events and metrics into InfluxDB, through the v1 `/write` endpoint that every
InfluxDB line serves, in the schema the Grafana dashboards query (dashboards/measurements.py):

    events       tags site, building, equipment, type (wo_raised | wo_acknowledged |
                 wo_resolved | alarm_raised | alarm_cleared); fields text, priority
    work_orders  tags site, building, priority, kind; integer fields open, acknowledged,
                 in_progress, overdue; float fields mtta_s, mttr_s, sla_compliance_pct,
                 equipment_good_pct, fire_good_pct, lighting_good_pct

`open` counts every job not yet resolved (open, acknowledged, in progress or on hold).
Metrics are written for every (building, priority, kind) every interval, zeros included, so a
panel's latest value is always current. Rates are over the jobs raised in the trailing
`metrics_window_days`; the good-order percentages are the building's, repeated on each of
its points. Timestamps are milliseconds; a point written twice at the same time replaces
itself, so a redelivery never duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.enums import Priority, WorkOrderKind
from cloud.equipment import Equipment
from cloud.notify.config import NotifyConfig
from cloud.notify.events import Outgoing
from cloud.notify.pump import Permanent, Retryable
from cloud.sla import Targets

log = logging.getLogger(__name__)

EVENTS = "events"
WORK_ORDERS = "work_orders"
COUNT_FIELDS = ("open", "acknowledged", "in_progress", "overdue")
RATE_FIELDS = (
    "mtta_s",
    "mttr_s",
    "sla_compliance_pct",
    "equipment_good_pct",
    "fire_good_pct",
    "lighting_good_pct",
)


# -- line protocol --------------------------------------------------------------------------


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _field(value: int | float | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return _escape_string(value)


def line(
    measurement: str,
    tags: Mapping[str, str | None],
    fields: Mapping[str, int | float | str | bool | None],
    at: datetime,
) -> str:
    """One point; empty tags and None fields are left out (line protocol has no nulls)."""
    tag_part = "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags.items()) if v)
    field_part = ",".join(
        f"{_escape_key(k)}={_field(v)}" for k, v in fields.items() if v is not None
    )
    if not field_part:
        raise ValueError(f"a {measurement} point needs at least one field")
    return f"{_escape_key(measurement)}{tag_part} {field_part} {int(at.timestamp() * 1000)}"


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
            }
            for name in ("equipment_good_pct", "fire_good_pct", "lighting_good_pct"):
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
    session: Session, *, site: str, now: datetime, window: timedelta, targets: Targets
) -> list[str]:
    """The `work_orders` points of every building, now."""
    start = now - window
    buildings = sorted(
        session.scalars(
            select(Equipment.building).where(Equipment.in_inventory.is_(True)).distinct()
        ).all()
    )
    out: list[str] = []
    for building in buildings:
        out.extend(
            metric_lines(
                site,
                building,
                kpi.load_jobs(session, building=building, start=start, end=now),
                kpi.load_live(session, building=building),
                kpi.load_open_repairs(session, building=building, at=now),
                kpi.load_equipment(session, building=building),
                now=now,
                start=start,
                targets=targets,
            )
        )
    return out


# -- writing ------------------------------------------------------------------------------------


class InfluxWriter:
    """POSTs line protocol to `/write` (precision ms) with user/password or token auth."""

    def __init__(self, config: NotifyConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client
        self._database_ready = not config.influx_create_database
        self.url = config.influx_url

    def _auth(self) -> dict[str, Any]:
        """The request's credentials: a token header, or HTTP Basic (never `?u=&p=`, which
        ends up in proxy and request logs)."""
        c = self._config
        if c.influx_token:
            return {"headers": {"Authorization": f"Token {c.influx_token}"}}
        if c.influx_username:
            return {"auth": httpx.BasicAuth(c.influx_username, c.influx_password or "")}
        return {}

    async def _ensure_database(self) -> None:
        if self._database_ready:
            return
        name = self._config.influx_database.replace('"', '\\"')
        try:
            response = await self._client.post(
                f"{self.url}/query", params={"q": f'CREATE DATABASE "{name}"'}, **self._auth()
            )
        except httpx.HTTPError as exc:
            raise Retryable(f"cannot reach InfluxDB at {self.url}: {exc}") from exc
        if response.status_code >= 500:
            raise Retryable(f"InfluxDB at {self.url} answered HTTP {response.status_code}")
        # A user without admin rights may not create databases; the write then says why.
        self._database_ready = True

    async def write(self, lines: Iterable[str]) -> None:
        body = "\n".join(lines)
        if not body:
            return
        await self._ensure_database()
        params = {"db": self._config.influx_database, "precision": "ms"}
        if self._config.influx_retention_policy:
            params["rp"] = self._config.influx_retention_policy
        try:
            response = await self._client.post(
                f"{self.url}/write", params=params, content=body.encode(), **self._auth()
            )
        except httpx.HTTPError as exc:
            raise Retryable(f"cannot reach InfluxDB at {self.url}: {exc}") from exc
        status = response.status_code
        if status in (200, 204):
            return
        text = response.text[:300].strip()
        if status >= 500 or status in (408, 429):
            raise Retryable(f"InfluxDB answered HTTP {status}: {text}")
        raise Permanent(f"InfluxDB refused the write, HTTP {status}: {text}")


class InfluxEventsSink:
    batch = 500

    def __init__(self, writer: InfluxWriter) -> None:
        self.name = f"influxdb events {writer.url}"
        self._writer = writer

    def wants(self, event: Outgoing) -> bool:
        return bool(event.influx_types())

    async def deliver(self, events: list[Outgoing]) -> None:
        await self._writer.write(ln for e in events for ln in event_lines(e))
