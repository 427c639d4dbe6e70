"""Reporters' messages sent through the notification channels: each update's delivery state.

Revision ID: 0013_reporters_delivery
Revises: 0012_notify3_code_tries
Create Date: 2026-12-07

`request_updates` gains how far its message to the reporter got (pending → sending →
sent, or failed / no_channel / no_contact), the attempts, the last error, when it was claimed
for sending, when it is next tried and the channel it went through. Updates written before
this migration and already delivered are `sent`; the rest start `pending`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_reporters_delivery"
down_revision: str | None = "0012_notify3_code_tries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("request_updates") as batch:
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="pending")
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.String(512), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(32), nullable=True))
    op.execute("UPDATE request_updates SET status = 'sent' WHERE delivered_at IS NOT NULL")
    op.create_index(
        "ix_request_updates_status_next_attempt_at",
        "request_updates",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_request_updates_status_next_attempt_at", table_name="request_updates")
    with op.batch_alter_table("request_updates") as batch:
        for column in (
            "channel",
            "next_attempt_at",
            "claimed_at",
            "last_error",
            "attempts",
            "status",
        ):
            batch.drop_column(column)
