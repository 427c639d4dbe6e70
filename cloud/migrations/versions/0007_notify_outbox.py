"""Outbound messages: contact points, the notification outbox, and each user's language.

Revision ID: 0007_notify_outbox
Revises: 0006_system_alarms
Create Date: 2026-12-08

`contact_points` holds where each person can be told (a configured channel and an address);
`notification_outbox` one row per (person, job, stage), unique, written in the same
transaction as the in-app notification, and worked through by the delivery worker;
`users.language` picks the messages' language (en or zh).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_notify_outbox"
down_revision: str | None = "0006_system_alarms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    op.create_table(
        "contact_points",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("address", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column(
            "code_hash",
            sa.String(64),
            nullable=True,
            comment="SHA-256 of the code last sent by 'send me a test'",
        ),
        sa.Column("code_sent_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "channel", "address"),
    )
    op.create_index("ix_contact_points_user_id", "contact_points", ["user_id"])
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "notification_id",
            sa.Integer(),
            sa.ForeignKey("notifications.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "work_order_id",
            sa.Integer(),
            sa.ForeignKey("work_orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False, comment="dispatched or escalated"),
        sa.Column(
            "contact_point_id",
            sa.Integer(),
            sa.ForeignKey("contact_points.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column(
            "tried",
            sa.JSON(),
            nullable=False,
            comment="contact point ids given up on for this message",
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "channel_attempts",
            sa.Integer(),
            nullable=False,
            comment="consecutive failures on the current contact point",
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("sending_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(512), nullable=True),
        sa.Column(
            "message_id",
            sa.String(128),
            nullable=True,
            comment="the key sent with the message (e-mail: X-Plantroom-Message)",
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            nullable=True,
            comment="the row whose message carried this one (one message per incident)",
        ),
        sa.Column("link_jti", sa.String(32), nullable=False),
        sa.Column("link_used_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("user_id", "work_order_id", "stage"),
        sa.UniqueConstraint("link_jti"),
    )
    op.create_index(
        "ix_notification_outbox_work_order_id", "notification_outbox", ["work_order_id"]
    )
    op.create_index(
        "ix_notification_outbox_status_next_attempt_at",
        "notification_outbox",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_table("notification_outbox")
    op.drop_table("contact_points")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
