"""The non-telemetry measurements the dashboards read, as the writers document them.

Telemetry fields come from the device profiles (`dashboards.profiles`); these three are
written by Plantroom's own processes: pipeline health by edge, gateway and cloud, work-order
metrics and events by the cloud.
"""

from __future__ import annotations

from dashboards.profiles import FieldSet, PointSpec

HEALTH = "plantroom_health"
WORK_ORDERS = "work_orders"
# events: tags site, building, equipment, type (alarm_raised, alarm_cleared, wo_raised,
# wo_acknowledged, wo_resolved); fields text and priority (strings).
EVENTS = "events"

# plantroom_health: tags component (edge|gateway|cloud) and instance. Counters are cumulative
# since the process started (they restart from zero after a restart); the rest are gauges.
HEALTH_COUNTERS = (
    "points_in",
    "points_out",
    "lines_written",
    "batches",
    "dead_letters",
    "write_errors",
    "timeouts",
    "exceptions",
    "reconnects",
    "dropped",
)
HEALTH_GAUGES = ("batch_latency_ms", "buffer_depth", "poll_latency_ms", "queue_depth")

# work_orders: tags site, building, priority, kind; one point per tag combination.
WORK_ORDER_COUNTS = ("open", "acknowledged", "in_progress", "overdue")
WORK_ORDER_RATES = (
    "mtta_s",
    "mttr_s",
    "sla_compliance_pct",
    "equipment_good_pct",
    "fire_good_pct",
    "lighting_good_pct",
)
PRIORITIES = ("emergency", "urgent", "normal", "low")


def _fields(measurement: str, source: str, types: dict[str, str]) -> FieldSet:
    return FieldSet(
        measurement,
        {name: PointSpec(name, ftype, "measurement", "") for name, ftype in types.items()},
        [source],
    )


def health_fields() -> FieldSet:
    types = {name: "integer" for name in HEALTH_COUNTERS}
    types |= {name: "float" for name in HEALTH_GAUGES}
    return _fields(HEALTH, "the pipeline-health schema", types)


def work_order_fields() -> FieldSet:
    types = {name: "integer" for name in WORK_ORDER_COUNTS}
    types |= {name: "float" for name in WORK_ORDER_RATES}
    return _fields(WORK_ORDERS, "the work-order metrics schema", types)
