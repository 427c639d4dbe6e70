"""GET /api/health: no authentication; is the service able to do its job?"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cloud import registry
from cloud.alarms import system
from cloud.alarms.model import Alarm
from cloud.api.admission import Admission
from cloud.cluster import turns
from cloud.cluster.health import SiteIntake, cluster_health
from cloud.deps import StateDep
from cloud.enums import AlarmState
from cloud.ingest import TelemetryConsumer
from cloud.points import PointCheck
from cloud.schemas import Counts, EdgeClock, Health, IntakeLag, LaneLoad, MqttHealth
from cloud.workorders.model import WorkOrder

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

HEALTH_SYSTEM_ALARMS = 20  # active system alarms named in the answer, at most


def _refusals(points: PointCheck | None) -> dict[str, Any]:
    if points is None:
        return {}
    return {
        "refused_points": points.refused,
        "refused_alarm_points": points.refused_alarms,
        "last_refused_point": points.last_refusal,
        "unchecked_equipment": sorted(points.unchecked),
    }


def _load(request: Request) -> dict[str, LaneLoad]:
    admission = getattr(request.app.state, "admission", None)
    if not isinstance(admission, Admission):
        return {}
    return {name: LaneLoad.model_validate(load) for name, load in admission.load().items()}


def _slowest(delays: list[float | None]) -> float | None:
    known = [d for d in delays if d is not None]
    return max(known) if known else None


def _lag(consumers: list[TelemetryConsumer]) -> IntakeLag | None:
    """The intakes' lag: queues summed, the longest waits (None without a consumer)."""
    if not consumers:
        return None
    return IntakeLag(
        urgent_queued=sum(c.intake.urgent_waiting for c in consumers),
        routine_queued=sum(c.intake.routine_waiting for c in consumers),
        coalesced=sum(c.intake.coalesced for c in consumers),
        oldest_wait_s=round(max(c.oldest_wait_s for c in consumers), 3),
        urgent_delay_s=_slowest([c.delays.urgent_s for c in consumers]),
        routine_delay_s=_slowest([c.delays.routine_s for c in consumers]),
        bound_s=consumers[0].lag.bound_s,
        behind=any(c.lag.behind for c in consumers),
    )


def _mqtt(consumers: list[TelemetryConsumer]) -> MqttHealth:
    """The telemetry intake of `consumers` (one per site evaluated here), counts summed."""
    first = consumers[0] if consumers else None  # they share one point check
    return MqttHealth(
        enabled=bool(consumers),
        connected=bool(consumers) and all(c.stats.connected for c in consumers),
        received=sum(c.stats.received for c in consumers),
        invalid=sum(c.stats.invalid for c in consumers),
        future=sum(c.stats.future for c in consumers),
        dead_lettered=sum(c.stats.dead_lettered for c in consumers),
        dropped=sum(c.stats.dropped for c in consumers),
        queued=sum(c.queued for c in consumers),
        **_refusals(first.points if first else None),
        edge_clocks=[
            EdgeClock(
                agent=c.agent,
                skew_s=c.skew_s,
                reports=c.reports,
                last_report_at=datetime.fromtimestamp(c.last_report_at_ms / 1000, UTC),
                off=c.off,
            )
            for consumer in consumers
            for c in consumer.clocks.agents()
        ],
        intake=_lag(consumers),
    )


def _site(consumer: TelemetryConsumer) -> SiteIntake:
    stats = consumer.stats
    return SiteIntake(
        connected=stats.connected,
        received=stats.received,
        invalid=stats.invalid,
        dropped=stats.dropped,
        queued=consumer.queued,
        oldest_wait_s=round(consumer.oldest_wait_s, 3),
        behind=consumer.lag.behind,
    )


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(request: Request, state: StateDep) -> JSONResponse:
    counts = None
    system_alarms: list[str] = []
    database = False
    try:
        with state.database().sessions() as session:
            active, active_count = system.search_system_alarms(
                session, state=AlarmState.ACTIVE, limit=HEALTH_SYSTEM_ALARMS, offset=0
            )
            system_alarms = [f"{a.code} on {a.subject}: {a.message}" for a in active]
            counts = Counts(
                equipment=registry.count(session),
                active_alarms=session.scalar(
                    select(func.count()).select_from(Alarm).where(Alarm.state == AlarmState.ACTIVE)
                )
                or 0,
                open_work_orders=session.scalar(
                    select(func.count())
                    .select_from(WorkOrder)
                    .where(WorkOrder.open_key.is_not(None))
                )
                or 0,
                active_system_alarms=active_count,
            )
        database = True
    except SQLAlchemyError as exc:
        log.warning("health: database check failed: %s", exc)
    running = dict(sorted(state.consumers.items()))  # per site evaluated here
    mqtt = _mqtt(list(running.values()))
    problems = [] if database else ["the database does not answer"]
    cluster = None
    if state.cluster is not None:  # with each held site's own intake
        sends = turns.holding(state.db) if state.db is not None else []
        cluster = cluster_health(state.cluster, {s: _site(c) for s, c in running.items()}, sends)
    for site, consumer in running.items():
        if not consumer.stats.connected:
            where = f"site {site}: " if cluster is not None else ""
            problems.append(f"{where}not connected to the MQTT broker")
    if not running and cluster is None:
        problems.append("telemetry intake off")
    if cluster is not None:
        problems += [
            f"site {site}: no cloud process evaluates its rules" for site in cluster.unwatched
        ]
        if cluster.failing:
            problems.append(
                f"site leases not renewed {cluster.failing} times: {cluster.last_error}"
            )
    for site, consumer in running.items():
        where = f"site {site}: " if cluster is not None else ""
        limit = consumer.clocks.max_skew_s
        problems += [
            f"{where}{c.problem}, beyond the {limit:g} s allowed" for c in consumer.clocks.off()
        ]
        if consumer.backlogged:
            problems.append(
                f"{where}telemetry intake behind: {consumer.queued} messages queued, the oldest for"
                f" {consumer.oldest_wait_s:.0f} s; alarm and state changes go first, routine"
                " measurements lag"
            )
    status = "down" if not database else ("degraded" if problems else "ok")
    body = Health(
        status=status,
        problems=problems,
        database=database,
        mqtt=mqtt,
        rules=len(state.rules),
        counts=counts,
        system_alarms=system_alarms,
        load=_load(request),
        cluster=cluster,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if database else 503)
