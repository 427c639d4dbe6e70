"""Initial schema: users, API tokens, equipment, alarms, work orders and their events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Times are stored as naive UTC `DateTime`; enums as short strings (no native enum types), so
the same migration runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=16)


WORK_ORDER_STATUS = (
    "open",
    "acknowledged",
    "in_progress",
    "on_hold",
    "resolved",
    "closed",
    "cancelled",
)


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.Integer))
    op.bulk_insert(counters, [{"name": "work_order_number", "value": 0}])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column(
            "role", _enum("role", "technician", "supervisor", "engineer", "admin"), nullable=False
        ),
        sa.Column("display_name", sa.String(128), nullable=True),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "equipment",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("building", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("floor", sa.String(32), nullable=True),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("in_inventory", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            _enum("equipmentstatus", "online", "offline", "stale", "unknown"),
            nullable=False,
        ),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("last_ts", sa.DateTime(), nullable=True, comment="edge time of the last sample"),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.Column("last_values", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
    )
    op.create_index(op.f("ix_equipment_building"), "equipment", ["building"])
    op.create_index(op.f("ix_equipment_kind"), "equipment", ["kind"])
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column(
            "severity", _enum("severity", "critical", "major", "minor", "warning"), nullable=False
        ),
        sa.Column("state", _enum("alarmstate", "active", "cleared"), nullable=False),
        sa.Column("message", sa.String(512), nullable=False),
        sa.Column("last_value", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("last_raised_at", sa.DateTime(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["users.id"], name=op.f("fk_alarms_acknowledged_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_alarms_equipment_id_equipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(
        "ix_alarms_equipment_rule_state", "alarms", ["equipment_id", "rule_id", "state"]
    )
    op.create_index(op.f("ix_alarms_state"), "alarms", ["state"])
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", _enum("workorderkind", "fault", "pm", "request"), nullable=False),
        sa.Column("equipment_id", sa.String(64), nullable=True),
        sa.Column("building", sa.String(64), nullable=True),
        sa.Column(
            "priority", _enum("priority", "emergency", "urgent", "normal", "low"), nullable=False
        ),
        sa.Column("status", _enum("workorderstatus", *WORK_ORDER_STATUS), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.String(128), nullable=True),
        sa.Column(
            "open_key",
            sa.String(200),
            nullable=True,
            comment="equipment:rule while the work order is open, NULL after; "
            "one open job per fault",
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("respond_due_at", sa.DateTime(), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(), nullable=True),
        sa.Column("holds", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_work_orders_alarm_id_alarms")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_work_orders_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_work_orders_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_work_orders_equipment_id_equipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_work_orders_number")),
        sa.UniqueConstraint("open_key", name=op.f("uq_work_orders_open_key")),
    )
    for column in ("assignee_id", "building", "created_at", "equipment_id", "priority", "status"):
        op.create_index(op.f(f"ix_work_orders_{column}"), "work_orders", [column])
    op.create_table(
        "work_order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False, comment="username, or 'system'"),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", _enum("workorderstatus", *WORK_ORDER_STATUS), nullable=True),
        sa.Column("to_status", _enum("workorderstatus", *WORK_ORDER_STATUS), nullable=True),
        sa.Column("channel", _enum("channel", "api", "cli", "console", "system"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_work_order_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            ondelete="CASCADE",
            name=op.f("fk_work_order_events_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_events")),
    )
    op.create_index(
        op.f("ix_work_order_events_work_order_id"), "work_order_events", ["work_order_id"]
    )


def downgrade() -> None:
    op.drop_table("work_order_events")
    op.drop_table("work_orders")
    op.drop_table("alarms")
    op.drop_table("equipment")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("counters")
