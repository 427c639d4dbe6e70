"""The non-telemetry measurements the dashboards read, as the writers document them.

Telemetry fields come from the device profiles (`dashboards.profiles`); these three are
written by Plantroom's own processes: pipeline health by the gateway (its own figures and
those the edge agents report to it) and by the cloud (its telemetry intake's), work-order
metrics and events by the cloud.
"""

from __future__ import annotations

from dashboards.errors import DashboardError
from dashboards.profiles import FieldSet, PointSpec
from plantroom.health import DEVICE_COUNTERS
from plantroom.influx.measurements import EVENTS as EVENTS  # the boards import them from here
from plantroom.influx.measurements import WORK_ORDER_COUNTS, WORK_ORDER_RATES
from plantroom.influx.measurements import WORK_ORDERS as WORK_ORDERS

HEALTH = "plantroom_health"

# plantroom_health holds four kinds of line, told apart by the `component` tag; a query must
# always filter on it, as the kinds share field names (`buffer_dropped`) and tags (`instance`).
# Counters are cumulative since the process started (they restart from zero after a restart);
# the rest are gauges.
GATEWAY = "gateway"
"""The gateway's own line (`gateway/stats.py`): tags component, instance (the gateway id)."""
EDGE = "edge"
"""An edge agent's line (docs/contract.md, "Edge health figures"): tags component, instance
(the agent id), site."""
EDGE_DEVICE = "edge_device"
"""One line per Modbus device of an edge agent: tags component, instance, site, equipment."""
CLOUD = "cloud"
"""The cloud's telemetry intake (`cloud.intake.health_fields`), written with the work-order
metrics: tags component, instance (the intake's name), site."""
HEALTH_COMPONENTS = (GATEWAY, EDGE, EDGE_DEVICE, CLOUD)

GATEWAY_COUNTERS = (
    "messages_in",
    "points_in",
    "points_out",
    "lines_written",
    "batches",
    "dead_letters",
    "write_errors",
    "buffer_dropped",
    "edge_health_in",
    "buffer_full_errors",
)
GATEWAY_GAUGES = {"batch_latency_ms": "float", "buffer_depth": "integer", "buffer_full": "integer"}

EDGE_COUNTERS = (
    "seq",
    "buffer_dropped",
    "buffer_dropped_measurements",
    "buffer_refused_measurements",
    "buffer_dropped_keepers",
    "buffer_disk_full_events",
    "published",
    "statuses_published",
    "broker_refused",
    "broker_connects",
    "broker_reconnects",
    "vendor_messages",
    "vendor_malformed",
    "modbus_requests",
    "polls_total",
    "on_schedule_total",
    "late_total",
    "skipped_total",
    "timeouts_total",
    "exceptions_total",
    "errors_total",
)
EDGE_GAUGES = {
    "uptime_s": "float",
    "queue_depth": "integer",
    "queue_max": "integer",
    "buffer_held": "integer",
    "buffer_disk_full": "integer",
    "broker_connected": "integer",
    "devices_online": "integer",
    "devices_offline": "integer",
    "devices_stale": "integer",
    "devices_unknown": "integer",
    "modbus_links": "integer",
    "receive_delay_s": "float",  # the gateway's: its receive time - the report's time
}

EDGE_DEVICE_COUNTERS = DEVICE_COUNTERS
# Written only when the device was polled in the report window.
EDGE_DEVICE_GAUGES = {
    "poll_latency_p50_ms": "float",
    "poll_latency_p99_ms": "float",
    "poll_latency_max_ms": "float",
}

CLOUD_COUNTERS = ("received", "processed", "coalesced", "dead_lettered")
# the delays are written once a message of that lane was processed
CLOUD_GAUGES = {
    "queued_urgent": "integer",
    "queued_routine": "integer",
    "oldest_wait_s": "float",
    "urgent_delay_s": "float",
    "routine_delay_s": "float",
    "lag_bound_s": "float",
    "behind": "integer",
}

_HEALTH_SCHEMA: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    GATEWAY: (GATEWAY_COUNTERS, GATEWAY_GAUGES),
    CLOUD: (CLOUD_COUNTERS, CLOUD_GAUGES),
    EDGE: (EDGE_COUNTERS, EDGE_GAUGES),
    EDGE_DEVICE: (EDGE_DEVICE_COUNTERS, EDGE_DEVICE_GAUGES),
}

PRIORITIES = ("emergency", "urgent", "normal", "low")


def _fields(measurement: str, source: str, types: dict[str, str]) -> FieldSet:
    return FieldSet(
        measurement,
        {name: PointSpec(name, ftype, "measurement", "") for name, ftype in types.items()},
        [source],
    )


def health_fields(component: str) -> FieldSet:
    """The `plantroom_health` fields the lines of one component carry."""
    try:
        counters, gauges = _HEALTH_SCHEMA[component]
    except KeyError:
        raise DashboardError(
            f"unknown plantroom_health component {component!r}; expected one of "
            f"{', '.join(HEALTH_COMPONENTS)}"
        ) from None
    types = {name: "integer" for name in counters} | gauges
    return _fields(HEALTH, f"the {component} health schema", types)


def work_order_fields() -> FieldSet:
    types = {name: "integer" for name in WORK_ORDER_COUNTS}
    types |= {name: "float" for name in WORK_ORDER_RATES}
    return _fields(WORK_ORDERS, "the work-order metrics schema", types)


def event_fields() -> FieldSet:
    """The `events` fields (its tags, `type` among them, are not fields)."""
    return _fields(
        EVENTS,
        "the events schema",
        {"text": "string", "priority": "string", "time_end_ms": "integer"},
    )
