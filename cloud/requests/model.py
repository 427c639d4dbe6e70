"""The service desk's tables: repair requests (an occupant's report or a logged phone call),
the messages kept for their reporters, follow-up calls after repairs, and complaints
(migrations 0011_requests, 0013_reporters_delivery)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.enums import Priority
from cloud.equipment import to_equipment
from cloud.orm import Base

if TYPE_CHECKING:
    from cloud.users.model import User
    from cloud.workorders.model import WorkOrder

# What a reporter said to "fixed?", or that they did not answer in time.
CONFIRMED = "confirmed"
NOT_FIXED = "not_fixed"
UNCONFIRMED = "unconfirmed"


class RepairRequest(Base):
    """One person's report of a problem, linked to the work order that deals with it (a new
    one, or the job already open for the same thing)."""

    __tablename__ = "repair_requests"
    __table_args__ = (
        Index("ix_repair_requests_code_category", "location_code", "category"),
        to_equipment("repair_requests"),  # migration 0023_sitekeys
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(
        String(43), unique=True, comment="the reporter's tracking reference (random, 128 bits)"
    )
    source: Mapped[str] = mapped_column(String(16), comment="public (a report) or desk (a call)")
    created_at: Mapped[datetime] = mapped_column(index=True)
    location_code: Mapped[str] = mapped_column(String(64), comment="equipment or building id")
    building: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str | None] = mapped_column(String(64), index=True)  # migration 0018_sites
    equipment_id: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[Priority]
    what: Mapped[str] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(200), comment="where exactly, in words")
    lang: Mapped[str] = mapped_column(String(8), default="en")
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    reporter_email: Mapped[str | None] = mapped_column(String(254))
    contact_erased_at: Mapped[datetime | None]
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, comment="JPEG, metadata stripped")
    photo_type: Mapped[str | None] = mapped_column(String(32))
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="SET NULL"), index=True
    )
    merged: Mapped[bool] = mapped_column(default=False, comment="joined a job already open")
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    seen_event_id: Mapped[int] = mapped_column(
        Integer, default=0, comment="the job's last audit event turned into reporter updates"
    )
    confirm_asked_at: Mapped[datetime | None] = mapped_column(index=True)
    confirmation: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None] = mapped_column(
        index=True, comment="when the job ended for the reporter: closed or cancelled"
    )

    work_order: Mapped[WorkOrder | None] = relationship()
    logged_by: Mapped[User | None] = relationship()
    updates: Mapped[list[RequestUpdate]] = relationship(
        back_populates="request",
        order_by="RequestUpdate.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class RequestUpdate(Base):
    """One message for a reporter: what happened to their request. The tracking page shows
    them; the outbox sends those not yet delivered (`pending_reporter_messages`)."""

    __tablename__ = "request_updates"
    __table_args__ = (
        Index("ix_request_updates_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("repair_requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(String(1000), comment="in the reporter's language")
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    # how far its message to the reporter got (`cloud.notify.reporters`)
    status: Mapped[str] = mapped_column(
        String(16), default="pending", server_default="pending"
    )  # pending, sending, sent, failed, no_channel, no_contact
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(512))
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(32))

    request: Mapped[RepairRequest] = relationship(back_populates="updates")


class FollowUp(Base):
    """The follow-up decision for one closed repair: sampled onto the call list or not, and
    what the call found."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), unique=True
    )
    decided_at: Mapped[datetime]
    sampled: Mapped[bool] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reached: Mapped[bool | None]
    satisfaction: Mapped[int | None] = mapped_column(Integer, comment="1 (poor) to 5 (very good)")
    comment: Mapped[str | None] = mapped_column(String(2000))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]

    work_order: Mapped[WorkOrder] = relationship()
    caller: Mapped[User | None] = relationship()


class Complaint(Base):
    """A complaint about the service, about one job or standalone, with its owner and how it
    was resolved (`valid`: upheld, counted in the complaint rate)."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="SET NULL"), index=True
    )
    building: Mapped[str | None] = mapped_column(String(64), index=True)
    summary: Mapped[str] = mapped_column(Text)
    complainant: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(254))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    valid: Mapped[bool | None] = mapped_column(comment="upheld (true) or unfounded, once resolved")
    resolved_at: Mapped[datetime | None]

    work_order: Mapped[WorkOrder | None] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    logged_by: Mapped[User] = relationship(foreign_keys=[logged_by_id])
