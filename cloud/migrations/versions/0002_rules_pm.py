"""Fault rules and preventive maintenance: incidents, saved rule state, PM schedules, and the
work-order columns for checklists, PM due dates and incidents.

Revision ID: 0002_rules_pm
Revises: 0001
Create Date: 2026-11-24

Columns are only added, never rebuilt: on SQLite a table rebuild would drop and re-create
`work_orders`, which the foreign keys of the audit trail cascade from. Unique rules on new
columns are unique indexes, which SQLite can add in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_rules_pm"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable integer column referring to `target.id`."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column's foreign key only inline, in ADD COLUMN itself
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_{column}_{target}"), table, target, [column], ["id"]
        )
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("building", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False, comment="outage"),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "cleared",
                name="alarmstate",
                native_enum=False,
                create_constraint=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("devices_lost", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_building"), "incidents", ["building"])
    op.create_index(op.f("ix_incidents_state"), "incidents", ["state"])

    op.create_table(
        "rule_states",
        sa.Column("equipment_id", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_rule_states_equipment_id_equipment")
        ),
        sa.PrimaryKeyConstraint("equipment_id", name=op.f("pk_rule_states")),
    )

    op.add_column(
        "work_orders",
        sa.Column(
            "checklist",
            sa.JSON(),
            nullable=False,
            server_default=sa.text("'[]'"),
            comment='[{"item": str, "done": bool, "by": str|null, "at": iso|null}]',
        ),
    )
    op.add_column("work_orders", sa.Column("pm_plan_id", sa.String(64), nullable=True))
    op.add_column("work_orders", sa.Column("pm_due_on", sa.Date(), nullable=True))
    op.add_column(
        "work_orders",
        sa.Column(
            "pm_key",
            sa.String(200),
            nullable=True,
            comment="plan|equipment or building|due date: one PM per due date",
        ),
    )
    _add_reference("work_orders", "incident_id", "incidents")
    op.create_index(
        "uq_work_orders_pm_plan_equipment_due",
        "work_orders",
        ["pm_plan_id", "equipment_id", "pm_due_on"],
        unique=True,
    )
    op.create_index("uq_work_orders_pm_key", "work_orders", ["pm_key"], unique=True)
    _add_reference("alarms", "incident_id", "incidents")

    op.create_table(
        "pm_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column(
            "target", sa.String(140), nullable=False, comment="equipment id, or building:<id>"
        ),
        sa.Column("equipment_id", sa.String(64), nullable=True),
        sa.Column("building", sa.String(64), nullable=False),
        sa.Column(
            "anchor", sa.Date(), nullable=False, comment="the calendar counts from this date"
        ),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column(
            "meters",
            sa.JSON(),
            nullable=False,
            comment='point → {"raw": last reading, "total": use counted, "base": total at service}',
        ),
        sa.Column("open_work_order_id", sa.Integer(), nullable=True),
        sa.Column("last_due", sa.Date(), nullable=True),
        sa.Column("last_done", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_pm_schedules_equipment_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["open_work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_pm_schedules_open_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pm_schedules")),
    )
    op.create_index(
        "uq_pm_schedules_plan_target", "pm_schedules", ["plan_id", "target"], unique=True
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), never a table rebuild: see the top.
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("uq_pm_schedules_plan_target", table_name="pm_schedules")
    op.drop_table("pm_schedules")
    op.drop_index(op.f("ix_alarms_incident_id"), table_name="alarms")
    if not sqlite:
        op.drop_constraint(op.f("fk_alarms_incident_id_incidents"), "alarms", type_="foreignkey")
    op.drop_column("alarms", "incident_id")
    op.drop_index("uq_work_orders_pm_key", table_name="work_orders")
    op.drop_index("uq_work_orders_pm_plan_equipment_due", table_name="work_orders")
    op.drop_index(op.f("ix_work_orders_incident_id"), table_name="work_orders")
    if not sqlite:
        op.drop_constraint(
            op.f("fk_work_orders_incident_id_incidents"), "work_orders", type_="foreignkey"
        )
    for column in ("incident_id", "pm_key", "pm_due_on", "pm_plan_id", "checklist"):
        op.drop_column("work_orders", column)
    op.drop_table("rule_states")
    op.drop_index(op.f("ix_incidents_state"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_building"), table_name="incidents")
    op.drop_table("incidents")
