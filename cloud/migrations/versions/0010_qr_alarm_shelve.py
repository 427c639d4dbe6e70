"""Shelving an alarm: set aside until a time, by whom and why.

Revision ID: 0010_qr_alarm_shelve
Revises: 0009_oncall_rota
Create Date: 2026-12-06

Columns are only added (see 0002_rules_pm); none has a foreign key, so SQLite and PostgreSQL
take the same ADD COLUMN.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_qr_alarm_shelve"
down_revision: str | None = "0009_oncall_rota"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "alarms",
        sa.Column(
            "shelved_until",
            sa.DateTime(),
            nullable=True,
            comment="set aside by a person until then; NULL when not shelved",
        ),
    )
    op.add_column("alarms", sa.Column("shelved_reason", sa.String(500), nullable=True))
    op.add_column(
        "alarms", sa.Column("shelved_by", sa.String(64), nullable=True, comment="a username")
    )


def downgrade() -> None:
    for column in ("shelved_by", "shelved_reason", "shelved_until"):
        op.drop_column("alarms", column)
