"""Several sites in one service: the site on the records, and people's sites.

Revision ID: 0018_sites
Revises: 0017_i18n_language_chosen
Create Date: 2026-12-06

`work_orders`, `alarms`, `pm_schedules` and `repair_requests` gain `site`, back-filled from
their equipment's site, else from the site of their building's equipment (NULL when neither
is known: such a row is seen by people of every site only). `teams.site` is NULL for a team
that serves every site. `user_sites` gives a person a role per site: a person with no rows
keeps their one role and sees every site (the portfolio); with rows, only those sites.
(Incidents carry their site since 0002.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_sites"
down_revision: str | None = "0017_i18n_language_chosen"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables that gain `site` (each has an `equipment_id`)
RECORDS = ("work_orders", "alarms", "pm_schedules", "repair_requests")
ROLES = ("technician", "supervisor", "engineer", "admin", "dispatcher", "contractor")


def upgrade() -> None:
    # plain ADD COLUMN: a batch would copy tables that other tables' keys point at
    for table in RECORDS:
        op.add_column(table, sa.Column("site", sa.String(64), nullable=True))
    op.add_column(
        "teams",
        sa.Column("site", sa.String(64), nullable=True, comment="NULL: serves every site"),
    )
    for table in RECORDS:
        op.execute(
            f"UPDATE {table} SET site = (SELECT equipment.site FROM equipment "
            f"WHERE equipment.id = {table}.equipment_id) WHERE equipment_id IS NOT NULL"
        )
        if table != "alarms":  # an alarm always has its equipment
            op.execute(
                f"UPDATE {table} SET site = (SELECT MIN(equipment.site) FROM equipment "
                f"WHERE equipment.building = {table}.building) "
                "WHERE site IS NULL AND building IS NOT NULL"
            )
    op.create_index("ix_work_orders_site_created_at", "work_orders", ["site", "created_at"])
    op.create_index("ix_alarms_site", "alarms", ["site"])
    op.create_index("ix_repair_requests_site", "repair_requests", ["site"])
    op.create_index("ix_teams_site", "teams", ["site"])
    op.create_table(
        "user_sites",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_sites_user_id_users"),
            nullable=False,
        ),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(*ROLES, name="role", native_enum=False, create_constraint=False, length=16),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "site", name="pk_user_sites"),
    )
    op.create_index("ix_user_sites_site", "user_sites", ["site"])


def downgrade() -> None:
    op.drop_index("ix_user_sites_site", table_name="user_sites")
    op.drop_table("user_sites")
    for name, table in (
        ("ix_teams_site", "teams"),
        ("ix_repair_requests_site", "repair_requests"),
        ("ix_alarms_site", "alarms"),
        ("ix_work_orders_site_created_at", "work_orders"),
    ):
        op.drop_index(name, table_name=table)
    for table in ("teams", *RECORDS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("site")
