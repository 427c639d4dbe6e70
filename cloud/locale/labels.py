"""The names people read of stored values (work-order kinds, priorities and statuses,
equipment kinds), marked for the catalog and translated where they are shown."""

from __future__ import annotations

from cloud.enums import Priority, WorkOrderKind, WorkOrderStatus
from cloud.locale import N_, Text
from plantroom.kinds import Kind

WORK_ORDER_KINDS = {
    WorkOrderKind.FAULT: N_("fault"),
    WorkOrderKind.PM: N_("PM"),
    WorkOrderKind.REQUEST: N_("request"),
}
PRIORITIES = {
    Priority.EMERGENCY: N_("emergency"),
    Priority.URGENT: N_("urgent"),
    Priority.NORMAL: N_("normal"),
    Priority.LOW: N_("low"),
}
STATUSES = {
    WorkOrderStatus.OPEN: N_("open"),
    WorkOrderStatus.ACKNOWLEDGED: N_("acknowledged"),
    WorkOrderStatus.IN_PROGRESS: N_("in progress"),
    WorkOrderStatus.ON_HOLD: N_("on hold"),
    WorkOrderStatus.RESOLVED: N_("resolved"),
    WorkOrderStatus.CLOSED: N_("closed"),
    WorkOrderStatus.CANCELLED: N_("cancelled"),
}
# equipment rows hold the kind's value, which a StrEnum key matches
EQUIPMENT_KINDS: dict[str, str] = {
    Kind.ELEVATOR: N_("elevator"),
    Kind.PUMP: N_("pump"),
    Kind.LIGHTING: N_("lighting"),
    Kind.FIRE_PANEL: N_("fire panel"),
}


def work_order_kind(text: Text, kind: WorkOrderKind) -> str:
    return text._(WORK_ORDER_KINDS[kind])


def priority(text: Text, value: Priority) -> str:
    return text._(PRIORITIES[value])


def status(text: Text, value: WorkOrderStatus) -> str:
    return text._(STATUSES[value])


def equipment_kind(text: Text, kind: str) -> str:
    """The kind's name; an unknown kind (a row older than the list) as stored."""
    return text._(EQUIPMENT_KINDS[kind]) if kind in EQUIPMENT_KINDS else kind
