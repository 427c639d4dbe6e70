"""The cloud database: users and tokens, the equipment registry, alarms, work orders and their
audit trail.

Types are portable between SQLite and PostgreSQL: enums are stored as short strings, JSON as
the dialect's JSON type, and times as UTC (naive in the column, aware in Python).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from cloud.clock import as_utc
from cloud.enums import (
    AlarmState,
    Channel,
    EquipmentStatus,
    Priority,
    Role,
    Severity,
    Trade,
    WorkOrderKind,
    WorkOrderStatus,
)


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and read back as aware UTC, on every dialect."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; Plantroom stores aware UTC times")
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        Role: _enum(Role),
        EquipmentStatus: _enum(EquipmentStatus),
        Severity: _enum(Severity),
        AlarmState: _enum(AlarmState),
        WorkOrderKind: _enum(WorkOrderKind),
        Priority: _enum(Priority),
        WorkOrderStatus: _enum(WorkOrderStatus),
        Channel: _enum(Channel),
        Trade: _enum(Trade),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role]
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Equipment(Base):
    """One piece of equipment from the inventory, with what telemetry last said about it."""

    __tablename__ = "equipment"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    floor: Mapped[str | None] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(128))
    profile: Mapped[str] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]]
    in_inventory: Mapped[bool] = mapped_column(default=True)
    status: Mapped[EquipmentStatus] = mapped_column(default=EquipmentStatus.UNKNOWN)
    status_changed_at: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    last_ts: Mapped[datetime | None] = mapped_column(comment="edge time of the last sample")
    last_seq: Mapped[int | None] = mapped_column(BigInteger)  # migration 0004: seq to 2^63-1
    last_values: Mapped[dict[str, Any]]


class Alarm(Base):
    """A rule firing on one piece of equipment. Re-triggers update the same row while its work
    order is open."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_equipment_rule_state", "equipment_id", "rule_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[str] = mapped_column(ForeignKey("equipment.id"))
    rule_id: Mapped[str] = mapped_column(String(128))
    severity: Mapped[Severity]
    state: Mapped[AlarmState] = mapped_column(index=True)
    message: Mapped[str] = mapped_column(String(512))
    last_value: Mapped[dict[str, Any]]
    raised_at: Mapped[datetime]
    last_raised_at: Mapped[datetime]
    occurrences: Mapped[int] = mapped_column(default=1)
    cleared_at: Mapped[datetime | None]
    acknowledged: Mapped[bool] = mapped_column(default=False)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Fault rules and incidents (migration 0002_rules_pm).
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id"), index=True, comment="folded into this building incident"
    )

    equipment: Mapped[Equipment] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()


class WorkOrder(Base):
    __tablename__ = "work_orders"
    # Lists are newest first within a filter (migration 0002_workorders).
    __table_args__ = (
        Index("ix_work_orders_status_created_at", "status", "created_at"),
        Index("ix_work_orders_priority_created_at", "priority", "created_at"),
        Index("ix_work_orders_building_created_at", "building", "created_at"),
        # migration 0003: the console's filtered lists and their counts
        Index("ix_work_orders_status_building_created_at", "status", "building", "created_at"),
        Index("ix_work_orders_status_kind_created_at", "status", "kind", "created_at"),
        Index("ix_work_orders_status_priority_created_at", "status", "priority", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[WorkOrderKind]
    equipment_id: Mapped[str | None] = mapped_column(ForeignKey("equipment.id"), index=True)
    building: Mapped[str | None] = mapped_column(String(64), index=True)
    priority: Mapped[Priority] = mapped_column(index=True)
    status: Mapped[WorkOrderStatus] = mapped_column(index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
    rule_id: Mapped[str | None] = mapped_column(String(128))
    open_key: Mapped[str | None] = mapped_column(
        String(200),
        unique=True,
        comment="equipment:rule while the work order is open, NULL after; one open job per fault",
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    respond_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    holds: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Work orders and SLA (migration 0002_workorders).
    location: Mapped[str | None] = mapped_column(String(128))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(
        comment="start of the current episode: creation, or the last reopen"
    )
    start_due_at: Mapped[datetime | None] = mapped_column(comment="on site by")
    dispatched_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    escalation_clock: Mapped[str | None] = mapped_column(String(16))
    escalation_stage: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None]
    postponements: Mapped[int] = mapped_column(Integer, default=0)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    reopened_at: Mapped[datetime | None]
    follow_up: Mapped[bool] = mapped_column(default=False)
    follow_up_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    # Preventive maintenance and incidents (migration 0002_rules_pm).
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON,
        default=list,
        comment='[{"item": str, "done": bool, "by": str|null, "at": iso|null}]',
    )
    pm_plan_id: Mapped[str | None] = mapped_column(String(64))
    pm_due_on: Mapped[date | None] = mapped_column(Date)
    pm_key: Mapped[str | None] = mapped_column(
        String(200), comment="plan|equipment or building|due date: one PM per due date"
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    equipment: Mapped[Equipment | None] = relationship()
    alarm: Mapped[Alarm | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    events: Mapped[list[WorkOrderEvent]] = relationship(
        back_populates="work_order",
        order_by="WorkOrderEvent.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    team: Mapped[Team | None] = relationship()
    attachments: Mapped[list[WorkOrderAttachment]] = relationship(
        order_by="WorkOrderAttachment.id", cascade="all, delete-orphan", passive_deletes=True
    )


class WorkOrderEvent(Base):
    """One line of a work order's audit trail: who did what, when, through which channel."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64), comment="username, or 'system'")
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[WorkOrderStatus | None]
    to_status: Mapped[WorkOrderStatus | None]
    channel: Mapped[Channel]
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="structured facts of the change, e.g. an escalation's recipients"
    )

    work_order: Mapped[WorkOrder] = relationship(back_populates="events")


class Counter(Base):
    """Named counters, e.g. the work-order number sequence (portable, no database sequences)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Team(Base):
    """Technicians of one trade, for one building (or every building when `building` is NULL).
    A new job goes to the team of its building and its equipment's trade."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    building: Mapped[str | None] = mapped_column(String(64), index=True)
    trade: Mapped[Trade]
    created_at: Mapped[datetime]

    members: Mapped[list[User]] = relationship(secondary="team_members", order_by="User.username")


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WorkOrderAttachment(Base):
    """A photo or document kept elsewhere, attached to a work order by reference."""

    __tablename__ = "work_order_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str] = mapped_column(String(256))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class Notification(Base):
    """A message to one person about a work order: a dispatch or an escalation."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order_events.id", ondelete="CASCADE")
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32), comment="dispatched or escalated")
    message: Mapped[str] = mapped_column(String(512))
    read_at: Mapped[datetime | None]

    work_order: Mapped[WorkOrder] = relationship()


# -- Fault rules, incidents and preventive maintenance (migration 0002_rules_pm) ---------------

# One PM work order per plan, equipment and due date, however often the scheduler runs or
# restarts; `pm_key` also covers building-wide plans, whose equipment_id is NULL (NULLs never
# collide in a unique index).
Index(
    "uq_work_orders_pm_plan_equipment_due",
    WorkOrder.pm_plan_id,
    WorkOrder.equipment_id,
    WorkOrder.pm_due_on,
    unique=True,
)
Index("uq_work_orders_pm_key", WorkOrder.pm_key, unique=True)


class Incident(Base):
    """Many devices of one building lost at once (a power failure or a network outage): one
    incident work order instead of one per device. Alarms and work orders point at it."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32), comment="outage")
    state: Mapped[AlarmState] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(256))
    devices_lost: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]

    alarms: Mapped[list[Alarm]] = relationship(order_by="Alarm.id", viewonly=True)
    work_orders: Mapped[list[WorkOrder]] = relationship(order_by="WorkOrder.id", viewonly=True)


class RuleState(Base):
    """The rule engine's timers and history for one piece of equipment, so that pending `for`
    durations and counter windows survive a restart."""

    __tablename__ = "rule_states"

    equipment_id: Mapped[str] = mapped_column(ForeignKey("equipment.id"), primary_key=True)
    data: Mapped[dict[str, Any]]
    saved_at: Mapped[datetime]


class PmSchedule(Base):
    """Where one PM plan stands for one piece of equipment (or one building): the calendar's
    next due date, the meters since the last service, the work order now open."""

    __tablename__ = "pm_schedules"
    __table_args__ = (Index("uq_pm_schedules_plan_target", "plan_id", "target", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(140), comment="equipment id, or building:<id>")
    equipment_id: Mapped[str | None] = mapped_column(ForeignKey("equipment.id"))
    building: Mapped[str] = mapped_column(String(64))
    anchor: Mapped[date] = mapped_column(Date, comment="the calendar counts from this date")
    next_due: Mapped[date | None] = mapped_column(Date)
    meters: Mapped[dict[str, Any]] = mapped_column(
        comment='point → {"raw": last reading, "total": use counted, "base": total at service}'
    )
    open_work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    last_due: Mapped[date | None] = mapped_column(Date)
    last_done: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime]

    open_work_order: Mapped[WorkOrder | None] = relationship()
