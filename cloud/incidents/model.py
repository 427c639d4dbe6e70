"""The incidents table: a building that lost many devices at once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.enums import AlarmState
from cloud.orm import Base

if TYPE_CHECKING:
    from cloud.alarms.model import Alarm
    from cloud.workorders.model import WorkOrder


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
