"""The alarms table: one row per rule firing on one piece of equipment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.enums import AlarmState, Severity
from cloud.orm import Base

if TYPE_CHECKING:
    from cloud.equipment import Equipment
    from cloud.users.model import User


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
