"""Checklists worked on a phone: follow-up jobs linked to their parent, sign-off, photos and
signatures, and the client's action id that makes each action apply once.

Revision ID: 0008_checklist_steps
Revises: 0007_notify_outbox
Create Date: 2026-12-14

Columns are only added, never rebuilt (see 0002_rules_pm): on SQLite a column's foreign key
is added inline in ADD COLUMN. The steps themselves (result, reading, note) live in the
existing JSON `checklist` column of each work order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_checklist_steps"
down_revision: str | None = "0007_notify_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "ALTER TABLE work_orders ADD COLUMN parent_id INTEGER "
            "REFERENCES work_orders (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("work_orders", sa.Column("parent_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_work_orders_parent_id_work_orders"),
            "work_orders",
            "work_orders",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_work_orders_parent_id"), "work_orders", ["parent_id"])
    op.add_column(
        "work_orders",
        sa.Column("sign_off_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("work_orders", sa.Column("signed_by", sa.String(128), nullable=True))
    op.add_column("work_orders", sa.Column("signed_at", sa.DateTime(), nullable=True))
    op.add_column("work_order_events", sa.Column("action_id", sa.String(64), nullable=True))
    op.create_index(
        "uq_work_order_events_action_id", "work_order_events", ["action_id"], unique=True
    )
    op.create_table(
        "work_order_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, comment="photo or signature"),
        sa.Column("path", sa.String(512), nullable=False, comment="relative to the data folder"),
        sa.Column("thumb_path", sa.String(512), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False, comment="bytes stored"),
        sa.Column("sha256", sa.String(64), nullable=False, comment="of the stored file"),
        sa.Column("caption", sa.String(500), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True, comment="the checklist step it shows"),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_photos_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_photos")),
    )
    op.create_index(
        op.f("ix_work_order_photos_work_order_id"), "work_order_photos", ["work_order_id"]
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index(op.f("ix_work_order_photos_work_order_id"), table_name="work_order_photos")
    op.drop_table("work_order_photos")
    op.drop_index("uq_work_order_events_action_id", table_name="work_order_events")
    op.drop_column("work_order_events", "action_id")
    op.drop_index(op.f("ix_work_orders_parent_id"), table_name="work_orders")
    if not sqlite:
        op.drop_constraint(
            op.f("fk_work_orders_parent_id_work_orders"), "work_orders", type_="foreignkey"
        )
    for column in ("parent_id", "sign_off_required", "signed_by", "signed_at"):
        op.drop_column("work_orders", column)
