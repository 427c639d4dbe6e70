"""What an in-app notification is about, so that it is written in its reader's language.

Revision ID: 0020_notetext_notification_facts
Revises: 0019_cluster_site_leases
Create Date: 2026-12-06

`notifications.facts` keeps what a dispatch, an escalation or a digest says (the job's
number, priority, place and title; the late clock, its due time and the stage; a digest's
jobs), from which `GET /api/me/notifications` writes the sentence in the caller's language
(cloud/sla/sentences.py). `message` stays the English sentence, the record; rows from before
have no facts and are shown as they were written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_notetext_notification_facts"
down_revision: str | None = "0019_cluster_site_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column(
            "facts",
            sa.JSON(),
            nullable=True,
            comment="the job, clock, due time, stage or digest's jobs the message is written from",
        ),
    )


def downgrade() -> None:
    op.drop_column("notifications", "facts")
