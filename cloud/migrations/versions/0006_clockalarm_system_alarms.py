"""System alarms: alarms about the service itself (an edge agent's clock, a notification
channel that keeps failing), and their audit trail.

Revision ID: 0006_system_alarms
Revises: 0005_seq_bigint
Create Date: 2026-12-10

New tables only. One active alarm per code and subject is a unique `active_key`
(`code|subject` while active, NULL once cleared), which SQLite and PostgreSQL both enforce.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_system_alarms"
down_revision: str | None = "0005_seq_bigint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=16)


def upgrade() -> None:
    op.create_table(
        "system_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column(
            "active_key",
            sa.String(200),
            nullable=True,
            comment="code|subject while active, NULL after; one active alarm per code and subject",
        ),
        sa.Column(
            "severity", _enum("severity", "critical", "major", "minor", "warning"), nullable=False
        ),
        sa.Column("state", _enum("alarmstate", "active", "cleared"), nullable=False),
        sa.Column("message", sa.String(512), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("last_raised_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["users.id"],
            name=op.f("fk_system_alarms_acknowledged_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_alarms")),
        sa.UniqueConstraint("active_key", name=op.f("uq_system_alarms_active_key")),
    )
    op.create_index("ix_system_alarms_code_subject", "system_alarms", ["code", "subject"])
    op.create_index(op.f("ix_system_alarms_state"), "system_alarms", ["state"])

    op.create_table(
        "system_alarm_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False, comment="a username, or `system`"),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["system_alarms.id"],
            name=op.f("fk_system_alarm_events_alarm_id_system_alarms"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_system_alarm_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_alarm_events")),
    )
    op.create_index(op.f("ix_system_alarm_events_alarm_id"), "system_alarm_events", ["alarm_id"])


def downgrade() -> None:
    op.drop_table("system_alarm_events")
    op.drop_table("system_alarms")
