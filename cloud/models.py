"""The cloud database: users and tokens, the equipment registry, alarms, work orders and their
audit trail.

Types are portable between SQLite and PostgreSQL: enums are stored as short strings, JSON as
the dialect's JSON type, and times as UTC (naive in the column, aware in Python).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
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
    last_seq: Mapped[int | None]
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

    equipment: Mapped[Equipment] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()


class WorkOrder(Base):
    __tablename__ = "work_orders"

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

    work_order: Mapped[WorkOrder] = relationship(back_populates="events")


class Counter(Base):
    """Named counters, e.g. the work-order number sequence (portable, no database sequences)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
