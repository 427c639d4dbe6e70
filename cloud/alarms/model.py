"""The alarms tables: rules firing on equipment, and alarms about the service itself."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.enums import AlarmState, Severity
from cloud.equipment import to_equipment
from cloud.orm import AuditTrail, Base

if TYPE_CHECKING:
    from cloud.equipment import Equipment
    from cloud.users.model import User


class AlarmLife:
    """The columns both kinds of alarm share: how bad, its state, what it says, when it was
    raised (first and last) and cleared, and when and by whom it was acknowledged."""

    severity: Mapped[Severity]
    state: Mapped[AlarmState] = mapped_column(index=True)
    message: Mapped[str] = mapped_column(String(512))
    raised_at: Mapped[datetime]
    last_raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Alarm(AlarmLife, Base):
    """A rule firing on one piece of equipment. Re-triggers update the same row while its work
    order is open."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_equipment_rule_state", "equipment_id", "rule_id", "state"),
        to_equipment("alarms"),  # migration 0023_sitekeys: ids are unique within a site
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[str] = mapped_column(String(64))
    # Several sites in one service (migration 0018_sites): filled at insert (cloud.siting).
    site: Mapped[str | None] = mapped_column(String(64), index=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    last_value: Mapped[dict[str, Any]]
    occurrences: Mapped[int] = mapped_column(default=1)
    acknowledged: Mapped[bool] = mapped_column(default=False)
    # Fault rules and incidents (migration 0002_rules_pm).
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id"), index=True, comment="folded into this building incident"
    )
    # Shelving (migration 0010_qr_alarm_shelve): set aside for a while, with a reason.
    shelved_until: Mapped[datetime | None] = mapped_column(
        comment="set aside by a person until then; NULL when not shelved"
    )
    shelved_reason: Mapped[str | None] = mapped_column(String(500))
    shelved_by: Mapped[str | None] = mapped_column(String(64), comment="a username")
    # Maintenance (migration 0014_maint_windows): raised while its equipment was in maintenance.
    maintenance_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_windows.id"),
        index=True,
        comment="held by this maintenance window: no work order while it runs",
    )

    equipment: Mapped[Equipment] = relationship(
        foreign_keys=[equipment_id],
        primaryjoin="and_(Alarm.site == Equipment.site, Alarm.equipment_id == Equipment.id)",
    )
    acknowledged_by: Mapped[User | None] = relationship()


class SystemAlarm(AlarmLife, Base):
    """An alarm about the service itself rather than a piece of equipment: an edge agent's
    clock, a notification channel that keeps failing. `code` says what is wrong, `subject`
    what it is wrong with (`edge:b01`). One row per episode; while active, `active_key`
    (`code|subject`, unique, NULL once cleared) keeps it the only active one for its pair."""

    __tablename__ = "system_alarms"
    __table_args__ = (Index("ix_system_alarms_code_subject", "code", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    active_key: Mapped[str | None] = mapped_column(
        String(200),
        unique=True,
        comment="code|subject while active, NULL after; one active alarm per code and subject",
    )
    details: Mapped[dict[str, Any]]

    acknowledged_by: Mapped[User | None] = relationship()
    events: Mapped[list[SystemAlarmEvent]] = relationship(
        back_populates="alarm", order_by="SystemAlarmEvent.id", cascade="all, delete-orphan"
    )

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class SystemAlarmEvent(AuditTrail, Base):
    """A system alarm's audit trail: raised, updated, cleared, acknowledged; by whom, when."""

    __tablename__ = "system_alarm_events"

    alarm_id: Mapped[int] = mapped_column(ForeignKey("system_alarms.id"), index=True)

    alarm: Mapped[SystemAlarm] = relationship(back_populates="events")
