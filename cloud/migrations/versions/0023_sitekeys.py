"""Equipment ids unique within a site: two sites of one service may each have a `pump-a1`.

Revision ID: 0023_sitekeys
Revises: 0022_costs_rule_history
Create Date: 2026-12-07

`equipment` is keyed by (site, id). Every table that names a piece of equipment names its site
too and refers to it by both: `alarms`, `work_orders`, `pm_schedules`, `repair_requests` (their
`site` since 0018), and `rule_states`, `rule_history` and `maintenance_windows`, which gain
`site`, back-filled from their equipment (a building's window from its building's equipment).
The one-open-job keys that named an equipment id now name `site/id` (`cloud.equipment.key`):
`work_orders.open_key` and `pm_key`, and `pm_schedules.target`; the unique index of one PM job
per plan, equipment and due date includes the site.

On SQLite the tables are copied (`batch_alter_table`) with foreign keys off for the migration
(`cloud.db.migrate` turns them off and checks every reference before it commits).
A downgrade is possible only while no equipment id is used by two sites.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_sitekeys"
down_revision: str | None = "0022_costs_rule_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables that name a piece of equipment, and whether `site` is new in them
REFERRING = {
    "alarms": False,
    "work_orders": False,
    "pm_schedules": False,
    "repair_requests": False,
    "maintenance_windows": True,
    "rule_states": True,
    "rule_history": True,
}
# their primary keys that include the equipment
KEYED = {"rule_states": ["equipment_id"], "rule_history": ["equipment_id", "point", "part"]}
PM_INDEX = "uq_work_orders_pm_plan_equipment_due"


def _kept(table: str) -> tuple[sa.Column[int], ...]:
    """Columns whose foreign key SQLite's reflection loses the ON DELETE of (they were added
    by ADD COLUMN, with the reference inline): given again, so a copy keeps it."""
    if table != "work_orders":
        return ()
    return (
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("work_orders.id", ondelete="SET NULL")),
    )


OF_EQUIPMENT = "(SELECT equipment.site FROM equipment WHERE equipment.id = {t}.equipment_id)"
# `a || b` in both dialects
KEYED_OPEN = "site || '/' || open_key"


def _old_fk(table: str) -> str:
    return f"fk_{table}_equipment_id_equipment"


def _new_fk(table: str) -> str:
    return f"fk_{table}_site_equipment"


def upgrade() -> None:
    for table, new in REFERRING.items():
        if new:
            op.add_column(table, sa.Column("site", sa.String(64), nullable=True))
        op.execute(
            f"UPDATE {table} SET site = {OF_EQUIPMENT.format(t=table)} "
            "WHERE site IS NULL AND equipment_id IS NOT NULL"
        )
    op.execute(
        "UPDATE maintenance_windows SET site = (SELECT MIN(equipment.site) FROM equipment "
        "WHERE equipment.building = maintenance_windows.building) "
        "WHERE site IS NULL AND building IS NOT NULL"
    )
    # the keys that named an equipment id name its site too
    op.execute(
        f"UPDATE work_orders SET open_key = {KEYED_OPEN} "
        "WHERE open_key IS NOT NULL AND equipment_id IS NOT NULL AND site IS NOT NULL"
    )
    op.execute(
        "UPDATE pm_schedules SET target = site || '/' || target "
        "WHERE equipment_id IS NOT NULL AND site IS NOT NULL"
    )
    op.execute(
        "UPDATE work_orders SET pm_key = "
        "pm_plan_id || '|' || site || '/' || equipment_id || '|' || pm_due_on "
        "WHERE pm_key IS NOT NULL AND equipment_id IS NOT NULL AND site IS NOT NULL"
    )
    for table in REFERRING:
        with op.batch_alter_table(table, reflect_args=_kept(table)) as batch:
            batch.drop_constraint(_old_fk(table), type_="foreignkey")
    with op.batch_alter_table("equipment") as batch:
        batch.drop_constraint("pk_equipment", type_="primary")
        batch.create_primary_key("pk_equipment", ["site", "id"])
    for table in REFERRING:
        with op.batch_alter_table(table, reflect_args=_kept(table)) as batch:
            if table in KEYED:
                batch.alter_column("site", existing_type=sa.String(64), nullable=False)
                batch.drop_constraint(f"pk_{table}", type_="primary")
                batch.create_primary_key(f"pk_{table}", ["site", *KEYED[table]])
            batch.create_foreign_key(
                _new_fk(table), "equipment", ["site", "equipment_id"], ["site", "id"]
            )
    op.drop_index(PM_INDEX, table_name="work_orders")
    op.create_index(
        PM_INDEX, "work_orders", ["pm_plan_id", "site", "equipment_id", "pm_due_on"], unique=True
    )


def downgrade() -> None:
    op.drop_index(PM_INDEX, table_name="work_orders")
    op.create_index(
        PM_INDEX, "work_orders", ["pm_plan_id", "equipment_id", "pm_due_on"], unique=True
    )
    for table in REFERRING:
        with op.batch_alter_table(table, reflect_args=_kept(table)) as batch:
            batch.drop_constraint(_new_fk(table), type_="foreignkey")
            if table in KEYED:
                batch.drop_constraint(f"pk_{table}", type_="primary")
                batch.create_primary_key(f"pk_{table}", KEYED[table])
    with op.batch_alter_table("equipment") as batch:
        batch.drop_constraint("pk_equipment", type_="primary")
        batch.create_primary_key("pk_equipment", ["id"])
    for table, new in REFERRING.items():
        with op.batch_alter_table(table, reflect_args=_kept(table)) as batch:
            batch.create_foreign_key(_old_fk(table), "equipment", ["equipment_id"], ["id"])
            if new:
                batch.drop_column("site")
    op.execute(
        "UPDATE work_orders SET open_key = SUBSTR(open_key, LENGTH(site) + 2) "
        "WHERE open_key IS NOT NULL AND equipment_id IS NOT NULL AND site IS NOT NULL"
    )
    op.execute(
        "UPDATE work_orders SET pm_key = pm_plan_id || '|' || equipment_id || '|' || pm_due_on "
        "WHERE pm_key IS NOT NULL AND equipment_id IS NOT NULL AND site IS NOT NULL"
    )
