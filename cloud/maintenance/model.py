"""The maintenance tables: windows when equipment (or a whole building) is in maintenance,
and their audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Index, String, and_, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from cloud.equipment import Equipment, to_equipment
from cloud.orm import AuditTrail, Base


class MaintenanceWindow(Base):
    """One piece of equipment, or every piece of one building, in maintenance from `starts_at`
    until `ends_at` (or until `ended_at`, when someone ended it early). While it runs, alarms
    of what it covers are held: recorded, shelved, no work order and no notification. Once it
    is over, `settled_at` records that the alarms still active went the normal way."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (
        Index("ix_maintenance_windows_settled_at_starts_at", "settled_at", "starts_at"),
        to_equipment("maintenance_windows"),  # migration 0023_sitekeys
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[str | None] = mapped_column(
        String(64), index=True, comment="the equipment, or NULL for a building"
    )
    site: Mapped[str | None] = mapped_column(String(64), comment="the equipment's or building's")
    building: Mapped[str | None] = mapped_column(
        String(64), index=True, comment="the building, or NULL for one piece of equipment"
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(comment="the planned end")
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64), comment="a username, or `system`")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(comment="ended before its planned end")
    ended_by: Mapped[str | None] = mapped_column(String(64))
    # no foreign key: work_orders → alarms → maintenance_windows would close a cycle
    work_order_id: Mapped[int | None] = mapped_column(
        index=True, comment="the PM job in progress that opened it (work_orders.id)"
    )
    settled_at: Mapped[datetime | None] = mapped_column(
        comment="when its end was applied: the alarms still active went the normal way"
    )

    events: Mapped[list[MaintenanceEvent]] = relationship(
        back_populates="window", order_by="MaintenanceEvent.id", cascade="all, delete-orphan"
    )

    @property
    def until(self) -> datetime:
        """When it stops holding alarms: its planned end, or when it was ended early."""
        return self.ended_at if self.ended_at is not None else self.ends_at


class MaintenanceEvent(AuditTrail, Base):
    """A maintenance window's audit trail: created, ended early, alarms held and released."""

    __tablename__ = "maintenance_events"

    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id"), index=True)

    window: Mapped[MaintenanceWindow] = relationship(back_populates="events")


def running_at(at: datetime) -> ColumnElement[bool]:
    """The windows running at `at` (a condition on `maintenance_windows`)."""
    until = func.coalesce(MaintenanceWindow.ended_at, MaintenanceWindow.ends_at)
    return and_(MaintenanceWindow.starts_at <= at, until > at)


def held_in(session: Session, building: str, at: datetime) -> set[str] | None:
    """The equipment of `building` in maintenance at `at` (their own windows), or None when
    the whole building is."""
    held: set[str] = set()
    for equipment_id, whole in session.execute(
        select(MaintenanceWindow.equipment_id, MaintenanceWindow.building)
        .outerjoin(
            Equipment,
            and_(
                MaintenanceWindow.site == Equipment.site,
                MaintenanceWindow.equipment_id == Equipment.id,
            ),
        )
        .where(
            running_at(at),
            or_(MaintenanceWindow.building == building, Equipment.building == building),
        )
    ).all():
        if equipment_id is None:
            if whole == building:
                return None
            continue
        held.add(equipment_id)
    return held
