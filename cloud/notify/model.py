"""The tables of outbound messages: each person's contact points, and the outbox of messages
to send (migration 0007_notify_outbox).

    contact_points       user ─┬─ email   ann@example.com   verified  position 0
                               └─ sms     +8613800000000    verified  position 1
                         team ─── email   desk@lifts.example  (a contractor's, migration
                                                               0016_contractors)
    notification_outbox  one row per (person, job, stage), never two: what to send, on which
                         contact point, and how far it got (queued → sending → sent/failed,
                         acknowledged once the person's link acknowledged the job); or per
                         (contractor team, job, stage), to the team's own contact points
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.orm import Base


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"


STATUS_TYPE = Enum(
    OutboxStatus,
    native_enum=False,
    create_constraint=False,
    length=16,
    values_callable=lambda members: [m.value for m in members],
    validate_strings=True,
)


class ContactPoint(Base):
    """Where one person, or one contractor team, can be told: a configured channel
    (`notifications.yaml`) and the address on it; only verified ones are used, lowest
    `position` first. A team's are declared by an administrator, so verified."""

    __tablename__ = "contact_points"
    __table_args__ = (
        UniqueConstraint("user_id", "channel", "address"),
        UniqueConstraint("team_id", "channel", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(256))
    position: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[bool] = mapped_column(default=False)
    verified_at: Mapped[datetime | None]
    code_hash: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the code last sent by 'send me a test'"
    )
    code_sent_at: Mapped[datetime | None]
    code_tries: Mapped[int] = mapped_column(
        Integer, default=0, comment="wrong codes given since the last test message"
    )
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """One message to one person (or to one contractor team's contact points: `team_id`, no
    person) about one job at one stage (`dispatch`, or an escalation's clock and stage, within
    the job's current episode)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("user_id", "work_order_id", "stage"),
        UniqueConstraint("team_id", "work_order_id", "stage"),
        Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32), comment="dispatched or escalated")
    contact_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_points.id", ondelete="SET NULL")
    )
    channel: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    tried: Mapped[list[Any]] = mapped_column(
        JSON, default=list, comment="contact point ids given up on for this message"
    )
    status: Mapped[OutboxStatus] = mapped_column(STATUS_TYPE)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel_attempts: Mapped[int] = mapped_column(
        Integer, default=0, comment="consecutive failures on the current contact point"
    )
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(512))
    message_id: Mapped[str | None] = mapped_column(
        String(128), comment="the key sent with the message (e-mail: X-Plantroom-Message)"
    )
    group_id: Mapped[int | None] = mapped_column(
        Integer, comment="the row whose message carried this one (one message per incident)"
    )
    link_jti: Mapped[str] = mapped_column(String(32), unique=True)
    link_used_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
