"""The pipeline board's cloud row: how far behind the cloud's telemetry intake is.

From the cloud's `plantroom_health` line (component `cloud`, one per intake instance), written
with the work-order metrics (every `PLANTROOM_METRICS_INTERVAL_S`). While the cloud keeps up
every figure is near zero; when it falls behind, alarm and state changes still go first, and
the routine delay and the oldest wait grow (docs/api.md, the intake under overload).
"""

from __future__ import annotations

from functools import partial

from dashboards import grafana as g
from dashboards.boards.health import INSTANCE, PER_SECOND, component_series, rate
from dashboards.measurements import CLOUD
from dashboards.panels import STATE, Board, Panel, Row, trend

LAG_BOUNDS = g.thresholds((None, g.GOOD), (10, g.WARN), (60, g.BAD))


_cloud = partial(component_series, CLOUD)


CLOUD_INTAKE: Board = [
    Row("Cloud intake"),
    trend(
        "Intake lag",
        _cloud(
            'max({oldest_wait_s:number}) AS "oldest waiting", '
            'max({urgent_delay_s:number}) AS "alarms and states", '
            'max({routine_delay_s:number}) AS "routine"'
        ),
        "Seconds the oldest waiting message had waited in the cloud's intake, "
        "and arrival → processed of the slowest alarm or state change and of the slowest "
        "routine sample of the latest batch. Under overload alarms and states stay fast "
        "while routine measurements lag; past the bound (PLANTROOM_INTAKE_LAG_ALARM_S, "
        "60 s by default) the telemetry_intake_behind system alarm is raised.",
        g.Look(unit="s", decimals=1, min=0, thresholds=LAG_BOUNDS),
    ),
    trend(
        "Intake queue",
        _cloud(
            'max({queued_urgent:number}) AS "alarms and states", '
            'max({queued_routine:number}) AS "routine"'
        ),
        "Entries waiting in the cloud's intake: alarm and state changes, and "
        "routine samples (those of one piece of equipment folded into one entry).",
        g.Look(decimals=0, min=0),
        w=6,
    ),
    trend(
        "Intake messages per second",
        _cloud(
            f"{rate('received', 'received')}, {rate('processed', 'processed')}, "
            f"{rate('coalesced', 'coalesced')}"
        ),
        "Messages the cloud received, queue entries it processed, and routine "
        "samples folded into one of their equipment's waiting (processed with it, not lost), "
        "per second.",
        PER_SECOND,
        w=6,
    ),
    Panel(
        viz=STATE,
        title="Intake behind",
        queries=_cloud('last({behind:number}) AS "behind"', alias=INSTANCE),
        description="Whether the intake's oldest waiting message was past the lag bound "
        "when last written: the telemetry_intake_behind system alarm is active.",
        states=g.number_mappings({0: ("keeping up", g.GOOD), 1: ("BEHIND", g.BAD)}),
        w=24,
        h=4,
    ),
]
