"""The asset register: register fields on every piece of equipment, and register-only assets.

Revision ID: 0015_assets_register
Revises: 0014_maint_windows
Create Date: 2026-12-06

`equipment` gains `connected` (true for the inventory's equipment, which has telemetry; false
for an asset registered by hand or from a CSV file) and the register fields: make, model,
serial, install date, warranty end, supplier and documents (a JSON list of {title, url}).
Existing rows all came from the inventory: they are connected, with empty register fields.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_assets_register"
down_revision: str | None = "0014_maint_windows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("connected", "make", "model", "serial", "install_date", "warranty_end", "supplier")


def upgrade() -> None:
    # plain ADD COLUMNs: on SQLite a batch would copy and drop `equipment`, which the
    # foreign keys of alarms, work orders and rule states refuse once they point at it
    op.add_column(
        "equipment", sa.Column("connected", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    for name in ("make", "model", "serial"):
        op.add_column("equipment", sa.Column(name, sa.String(128), nullable=True))
    op.add_column("equipment", sa.Column("install_date", sa.Date(), nullable=True))
    op.add_column("equipment", sa.Column("warranty_end", sa.Date(), nullable=True))
    op.add_column("equipment", sa.Column("supplier", sa.String(128), nullable=True))
    op.add_column("equipment", sa.Column("documents", sa.JSON(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35 and later), for the same reason
    for name in ("documents", *reversed(COLUMNS)):
        op.drop_column("equipment", name)
