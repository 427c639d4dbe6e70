"""On-call rotas: a rota per team and its covers (overrides and swaps); why each person is
told (a notification's stage and reason); routine jobs held until working hours.

Revision ID: 0009_oncall_rota
Revises: 0008_checklist_steps
Create Date: 2026-12-06

Columns are only added, never rebuilt (SQLite would re-create `work_orders`, which the audit
trail's foreign keys cascade from).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009_oncall_rota"
down_revision: str | None = "0008_checklist_steps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user(column: str, table: str, ondelete: str, nullable: bool = True) -> list[Any]:
    return [
        sa.Column(column, sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint(
            [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "oncall_rotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("rotation", sa.String(8), nullable=False, comment="daily or weekly"),
        sa.Column("handover", sa.String(5), nullable=False, comment="HH:MM, local time"),
        sa.Column(
            "timezone", sa.String(64), nullable=False, comment="IANA zone, the site's by default"
        ),
        sa.Column(
            "starts_on", sa.Date(), nullable=False, comment="the first member's shift starts then"
        ),
        sa.Column("members", sa.JSON(), nullable=False, comment="user ids, in turn"),
        *_user("backup_id", "oncall_rotas", "SET NULL"),
        *_user("supervisor_id", "oncall_rotas", "SET NULL"),
        *_user("manager_id", "oncall_rotas", "SET NULL"),
        sa.Column("routine", sa.String(8), nullable=False, comment="always, hours or digest"),
        sa.Column("hours_start", sa.String(5), nullable=False),
        sa.Column("hours_end", sa.String(5), nullable=False),
        sa.Column("work_days", sa.JSON(), nullable=False, comment="ISO weekdays, 1 = Monday"),
        sa.Column("digest_at", sa.String(5), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_oncall_rotas_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_rotas")),
        sa.UniqueConstraint("team_id", name=op.f("uq_oncall_rotas_team_id")),
    )
    op.create_table(
        "oncall_covers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rota_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False, comment="override or swap"),
        *_user("user_id", "oncall_covers", "CASCADE", nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=True, comment="a swap's other half"),
        sa.Column("note", sa.String(256), nullable=True),
        *_user("created_by_id", "oncall_covers", "SET NULL"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rota_id"],
            ["oncall_rotas.id"],
            name=op.f("fk_oncall_covers_rota_id_oncall_rotas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_covers")),
    )
    op.create_index("ix_oncall_covers_rota_id_ends_at", "oncall_covers", ["rota_id", "ends_at"])

    op.add_column(
        "work_orders",
        sa.Column(
            "held_until",
            sa.DateTime(),
            nullable=True,
            comment="a routine job raised outside working hours is told from then",
        ),
    )
    op.add_column(
        "work_orders",
        sa.Column("held_for", sa.String(8), nullable=True, comment="hours or digest"),
    )
    op.add_column(
        "notifications",
        sa.Column(
            "stage",
            sa.String(48),
            nullable=True,
            comment="dispatch, <clock>:<n> or digest, after r<reopens>/ once reopened",
        ),
    )
    op.add_column(
        "notifications",
        sa.Column(
            "reason",
            sa.String(64),
            nullable=True,
            comment="why this person: on call, backup, supervisor, escalation stage 2 …",
        ),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), never a table rebuild: see the top.
    op.drop_column("notifications", "reason")
    op.drop_column("notifications", "stage")
    op.drop_column("work_orders", "held_for")
    op.drop_column("work_orders", "held_until")
    op.drop_index("ix_oncall_covers_rota_id_ends_at", table_name="oncall_covers")
    op.drop_table("oncall_covers")
    op.drop_table("oncall_rotas")
