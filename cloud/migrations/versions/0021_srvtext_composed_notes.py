"""The message id and parameters of what the service writes in a job's trail and description.

Revision ID: 0021_srvtext_composed_notes
Revises: 0020_notetext_notification_facts
Create Date: 2026-12-06

The audit trails (`work_order_events`, `maintenance_events`, `system_alarm_events`) keep, next
to the English `note`, the note's message and parameters when the service composed it
(`note_message`); a work order keeps the paragraph of its description the service composed
(`description_message`). The API writes them in each reader's language
(`cloud.locale.composed`). Rows written before have none and read as stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_srvtext_composed_notes"
down_revision: str | None = "0020_notetext_notification_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTES = ("work_order_events", "maintenance_events", "system_alarm_events")
NOTE = "the note's message and parameters, when the service composed it"
DESCRIPTION = "the paragraph of the description the service composed: message and parameters"


def upgrade() -> None:
    # plain ADD COLUMNs of nullable columns: no table is copied
    for table in NOTES:
        comment = NOTE if table == "work_order_events" else None
        op.add_column(table, sa.Column("note_message", sa.JSON(), nullable=True, comment=comment))
    op.add_column(
        "work_orders",
        sa.Column("description_message", sa.JSON(), nullable=True, comment=DESCRIPTION),
    )


def downgrade() -> None:
    op.drop_column("work_orders", "description_message")
    for table in reversed(NOTES):
        op.drop_column(table, "note_message")
