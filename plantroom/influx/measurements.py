"""The measurements the cloud writes to InfluxDB besides telemetry, as the dashboards read
them: the cloud's notifier writes them (`cloud.notify.influx`), the boards query them."""

from __future__ import annotations

EVENTS = "events"
"""Tags site, building, equipment, type (alarm_raised, alarm_cleared, wo_raised,
wo_acknowledged, wo_resolved, maintenance); fields text and priority (strings), and for a
maintenance window, at its start, `time_end_ms` (integer): when it ends."""
WORK_ORDERS = "work_orders"
"""Tags site, building, priority, kind; one point per tag combination."""
WORK_ORDER_COUNTS = ("open", "acknowledged", "in_progress", "overdue")
"""Integer fields of `work_orders`: jobs in that state now."""
WORK_ORDER_RATES = (
    "mtta_s",
    "mttr_s",
    "sla_compliance_pct",
    "equipment_good_pct",
    "fire_good_pct",
    "lighting_good_pct",
    "dispatched_pct",
    "ack_in_dispatch_pct",
    "follow_up_pct",
    "complaint_pct",
    "satisfaction",
)
"""Float fields of `work_orders`."""
HEALTH = "plantroom_health"
"""Pipeline health; the cloud writes its telemetry intake's line to it with the metrics:
tags component (`cloud`), instance (the intake's name), site; counters received, processed,
coalesced, dead_lettered; gauges queued_urgent, queued_routine, oldest_wait_s,
urgent_delay_s, routine_delay_s (once a message of that lane was processed), lag_bound_s,
behind (0 or 1). The gateway writes its own and the edge agents' lines."""
