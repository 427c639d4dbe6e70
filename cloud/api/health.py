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
from cloud.cluster.health import cluster_health
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


def _lag(consumer: TelemetryConsumer) -> IntakeLag:
    intake = consumer.intake
    return IntakeLag(
        urgent_queued=intake.urgent_waiting,
        routine_queued=intake.routine_waiting,
        coalesced=intake.coalesced,
        oldest_wait_s=round(consumer.oldest_wait_s, 3),
        urgent_delay_s=consumer.delays.urgent_s,
        routine_delay_s=consumer.delays.routine_s,
        bound_s=consumer.lag.bound_s,
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
    consumer = state.consumer
    mqtt = MqttHealth(
        enabled=consumer is not None,
        connected=consumer is not None and consumer.stats.connected,
        received=consumer.stats.received if consumer else 0,
        invalid=consumer.stats.invalid if consumer else 0,
        future=consumer.stats.future if consumer else 0,
        dead_lettered=consumer.stats.dead_lettered if consumer else 0,
        dropped=consumer.stats.dropped if consumer else 0,
        queued=consumer.queued if consumer else 0,
        **_refusals(consumer.points if consumer else None),
        edge_clocks=[
            EdgeClock(
                agent=c.agent,
                skew_s=c.skew_s,
                reports=c.reports,
                last_report_at=datetime.fromtimestamp(c.last_report_at_ms / 1000, UTC),
                off=c.off,
            )
            for c in (consumer.clocks.agents() if consumer else [])
        ],
        intake=_lag(consumer) if consumer else None,
    )
    problems = [] if database else ["the database does not answer"]
    cluster = cluster_health(state.cluster) if state.cluster is not None else None
    if consumer is not None and not mqtt.connected:
        problems.append("not connected to the MQTT broker")
    elif consumer is None and cluster is None:
        problems.append("telemetry intake off")
    if cluster is not None:
        problems += [
            f"site {site}: no cloud process evaluates its rules" for site in cluster.unwatched
        ]
        if cluster.failing:
            problems.append(
                f"site leases not renewed {cluster.failing} times: {cluster.last_error}"
            )
    if consumer is not None:
        limit = consumer.clocks.max_skew_s
        problems += [f"{c.problem}, beyond the {limit:g} s allowed" for c in consumer.clocks.off()]
        if consumer.backlogged:
            problems.append(
                f"telemetry intake behind: {consumer.queued} messages queued, the oldest for"
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
