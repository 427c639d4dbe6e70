"""The vocabularies of the cloud service, shared by the database, the rules and the API."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    ENGINEER = "engineer"
    ADMIN = "admin"
    DISPATCHER = "dispatcher"  # the service desk: logs calls, follow-ups and complaints
    CONTRACTOR = "contractor"  # an outside company's technician: its own team's jobs only


class EquipmentStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    STALE = "stale"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class AlarmState(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


class WorkOrderKind(StrEnum):
    FAULT = "fault"
    PM = "pm"
    REQUEST = "request"


class Priority(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"


class WorkOrderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# A work order in one of these needs no more work; any other status counts as open.
FINISHED = frozenset({WorkOrderStatus.RESOLVED, WorkOrderStatus.CLOSED, WorkOrderStatus.CANCELLED})


class Channel(StrEnum):
    API = "api"
    CLI = "cli"
    CONSOLE = "console"
    SYSTEM = "system"


class Trade(StrEnum):
    """What a maintenance team does; each kind of equipment belongs to one trade."""

    LIFTS = "lifts"
    PLUMBING = "plumbing"
    ELECTRICAL = "electrical"
    FIRE = "fire"


# The trade that maintains each kind of equipment (plantroom.kinds.Kind values).
TRADE_OF_KIND: dict[str, Trade] = {
    "elevator": Trade.LIFTS,
    "pump": Trade.PLUMBING,
    "lighting": Trade.ELECTRICAL,
    "fire_panel": Trade.FIRE,
}
