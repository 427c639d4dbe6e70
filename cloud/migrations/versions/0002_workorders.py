"""Work orders and SLA: teams, escalation and verification state, postponement, reopening,
follow-up, attachments by reference and per-person notifications.

Revision ID: 0002_workorders
Revises: 0001
Create Date: 2026-11-23

Columns are only added, never rebuilt: on SQLite a table rebuild would drop and re-create
`work_orders`, which the foreign keys of the audit trail cascade from. So `opened_at` is
back-filled from `created_at` and made NOT NULL where the database can do that in place
(PostgreSQL); on SQLite the service always writes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_workorders"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRADES = ("lifts", "plumbing", "electrical", "fire")
LIST_INDEXES = ("status", "priority", "building")


def work_order_columns() -> tuple[sa.Column[object], ...]:
    """The plain columns this revision adds to work_orders (new objects on every call)."""
    return (
        sa.Column("location", sa.String(128), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("start_due_at", sa.DateTime(), nullable=True, comment="on site by"),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("escalation_clock", sa.String(16), nullable=True),
        sa.Column("escalation_stage", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("postponements", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reopens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.Column("follow_up", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("follow_up_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
    )


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("building", sa.String(64), nullable=True),
        sa.Column(
            "trade",
            sa.Enum(*TRADES, name="trade", native_enum=False, create_constraint=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_index(op.f("ix_teams_building"), "teams", ["building"])
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            ondelete="CASCADE",
            name=op.f("fk_team_members_team_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_team_members_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    op.create_index(op.f("ix_team_members_user_id"), "team_members", ["user_id"])

    for column in work_order_columns():
        op.add_column("work_orders", column)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # SQLite adds a column's foreign key only inline, in ADD COLUMN itself
        op.execute(
            "ALTER TABLE work_orders ADD COLUMN team_id INTEGER "
            "REFERENCES teams (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("work_orders", sa.Column("team_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_work_orders_team_id_teams"),
            "work_orders",
            "teams",
            ["team_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_work_orders_team_id"), "work_orders", ["team_id"])
    for name in LIST_INDEXES:  # lists are newest first within a filter
        op.create_index(f"ix_work_orders_{name}_created_at", "work_orders", [name, "created_at"])
    op.execute("UPDATE work_orders SET opened_at = created_at")
    if not sqlite:
        op.alter_column("work_orders", "opened_at", existing_type=sa.DateTime(), nullable=False)

    op.add_column("work_order_events", sa.Column("details", sa.JSON(), nullable=True))

    op.create_table(
        "work_order_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            ondelete="CASCADE",
            name=op.f("fk_work_order_attachments_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_attachments")),
    )
    op.create_index(
        op.f("ix_work_order_attachments_work_order_id"),
        "work_order_attachments",
        ["work_order_id"],
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False, comment="dispatched or escalated"),
        sa.Column("message", sa.String(512), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_notifications_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            ondelete="CASCADE",
            name=op.f("fk_notifications_work_order_id_work_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["work_order_events.id"],
            ondelete="CASCADE",
            name=op.f("fk_notifications_event_id_work_order_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_user_id"), "notifications", ["user_id"])
    op.create_index(op.f("ix_notifications_work_order_id"), "notifications", ["work_order_id"])


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), never a table rebuild: see the top.
    op.drop_table("notifications")
    op.drop_table("work_order_attachments")
    op.drop_column("work_order_events", "details")
    op.drop_index(op.f("ix_work_orders_team_id"), table_name="work_orders")
    for name in LIST_INDEXES:
        op.drop_index(f"ix_work_orders_{name}_created_at", table_name="work_orders")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_work_orders_team_id_teams"), "work_orders", type_="foreignkey")
    op.drop_column("work_orders", "team_id")
    for column in reversed(work_order_columns()):
        op.drop_column("work_orders", column.name)
    op.drop_index(op.f("ix_team_members_user_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_index(op.f("ix_teams_building"), table_name="teams")
    op.drop_table("teams")
