"""The declarative base every table of the cloud database is declared on, its column types,
and the named counters several parts of the service share.

Each domain declares its own tables (`cloud.users.model`, `cloud.alarms.model`,
`cloud.incidents.model`, `cloud.workorders.model`, `cloud.equipment`); `cloud.tables` loads
them all into one `MetaData`, the one the migrations compare against.

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
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class AuditTrail:
    """The columns every audit trail but the work orders' shares: what was done (`action`),
    when (`at`), by whom (`actor`, and the user's id when a person did it), a note and the
    details. A trail's table declares these with the foreign key of what it is the trail of."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64), comment="a username, or `system`")
    note: Mapped[str | None] = mapped_column(String(2000))
    note_message: Mapped[dict[str, Any] | None]  # cloud.locale.composed
    details: Mapped[dict[str, Any] | None]


class Counter(Base):
    """Named counters, e.g. the work-order number sequence (portable, no database sequences)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
