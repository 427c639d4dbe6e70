"""Maintenance mode: windows when equipment or a building is in maintenance, their audit
trail, and the alarm column that says which window held an alarm.

Revision ID: 0014_maint_windows
Revises: 0013_reporters_delivery
Create Date: 2026-12-06

New tables, and one column added to `alarms` with its foreign key inline on SQLite (see
0002_rules_pm), so no table is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_maint_windows"
down_revision: str | None = "0013_reporters_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "equipment_id",
            sa.String(64),
            nullable=True,
            comment="the equipment, or NULL for a building",
        ),
        sa.Column(
            "building",
            sa.String(64),
            nullable=True,
            comment="the building, or NULL for one piece of equipment",
        ),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False, comment="the planned end"),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False, comment="a username, or `system`"),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True, comment="ended before its planned end"),
        sa.Column("ended_by", sa.String(64), nullable=True),
        sa.Column(
            "work_order_id",
            sa.Integer(),
            nullable=True,
            comment="the PM job in progress that opened it (work_orders.id)",
        ),
        sa.Column(
            "settled_at",
            sa.DateTime(),
            nullable=True,
            comment="when its end was applied: the alarms still active went the normal way",
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_maintenance_windows_equipment_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_maintenance_windows_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    op.create_index(
        op.f("ix_maintenance_windows_equipment_id"), "maintenance_windows", ["equipment_id"]
    )
    op.create_index(op.f("ix_maintenance_windows_building"), "maintenance_windows", ["building"])
    op.create_index(
        op.f("ix_maintenance_windows_work_order_id"), "maintenance_windows", ["work_order_id"]
    )
    op.create_index(
        "ix_maintenance_windows_settled_at_starts_at",
        "maintenance_windows",
        ["settled_at", "starts_at"],
    )

    op.create_table(
        "maintenance_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False, comment="a username, or `system`"),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_maintenance_events_window_id_maintenance_windows"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_maintenance_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_events")),
    )
    op.create_index(op.f("ix_maintenance_events_window_id"), "maintenance_events", ["window_id"])

    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column's foreign key only inline, in ADD COLUMN itself
        op.execute(
            "ALTER TABLE alarms ADD COLUMN maintenance_id INTEGER "
            "REFERENCES maintenance_windows (id)"
        )
    else:
        op.add_column(
            "alarms",
            sa.Column(
                "maintenance_id",
                sa.Integer(),
                nullable=True,
                comment="held by this maintenance window: no work order while it runs",
            ),
        )
        op.create_foreign_key(
            op.f("fk_alarms_maintenance_id_maintenance_windows"),
            "alarms",
            "maintenance_windows",
            ["maintenance_id"],
            ["id"],
        )
    op.create_index(op.f("ix_alarms_maintenance_id"), "alarms", ["maintenance_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alarms_maintenance_id"), table_name="alarms")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            op.f("fk_alarms_maintenance_id_maintenance_windows"), "alarms", type_="foreignkey"
        )
    op.drop_column("alarms", "maintenance_id")
    op.drop_index(op.f("ix_maintenance_events_window_id"), table_name="maintenance_events")
    op.drop_table("maintenance_events")
    for index in (
        "ix_maintenance_windows_settled_at_starts_at",
        op.f("ix_maintenance_windows_work_order_id"),
        op.f("ix_maintenance_windows_building"),
        op.f("ix_maintenance_windows_equipment_id"),
    ):
        op.drop_index(index, table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
