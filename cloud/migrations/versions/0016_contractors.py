"""Outside contractors: a team may be a contractor's, with contact points of its own.

Revision ID: 0016_contractors
Revises: 0015_assets_register
Create Date: 2026-12-08

`teams` gains `contractor`, the contractor's `company`, `sign_off_required` (its jobs
resolve only once signed off) and the `language` of the messages to its own addresses.
`contact_points` may belong to a team instead of a person (`team_id`, `user_id` NULL), and
`notification_outbox` rows may be addressed to a team's contact points (`team_id`, `user_id`
NULL), one per (team, job, stage). Existing rows are people's and stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_contractors"
down_revision: str | None = "0015_assets_register"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(
            sa.Column("contractor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("company", sa.String(128), nullable=True, comment="a contractor's company")
        )
        batch.add_column(
            sa.Column(
                "sign_off_required",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="its jobs resolve only once signed off",
            )
        )
        batch.add_column(
            sa.Column(
                "language",
                sa.String(8),
                nullable=False,
                server_default="en",
                comment="its messages': en or zh",
            )
        )
    with op.batch_alter_table("contact_points") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_contact_points_team_id_teams", "teams", ["team_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint(
            "uq_contact_points_team_id", ["team_id", "channel", "address"]
        )
    op.create_index("ix_contact_points_team_id", "contact_points", ["team_id"])
    with op.batch_alter_table("notification_outbox") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_notification_outbox_team_id_teams",
            "teams",
            ["team_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_unique_constraint(
            "uq_notification_outbox_team_id", ["team_id", "work_order_id", "stage"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM notification_outbox WHERE user_id IS NULL")
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_constraint("uq_notification_outbox_team_id", type_="unique")
        batch.drop_constraint("fk_notification_outbox_team_id_teams", type_="foreignkey")
        batch.drop_column("team_id")
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_contact_points_team_id", table_name="contact_points")
    op.execute("DELETE FROM contact_points WHERE user_id IS NULL")
    with op.batch_alter_table("contact_points") as batch:
        batch.drop_constraint("uq_contact_points_team_id", type_="unique")
        batch.drop_constraint("fk_contact_points_team_id_teams", type_="foreignkey")
        batch.drop_column("team_id")
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("teams") as batch:
        for column in ("language", "sign_off_required", "company", "contractor"):
            batch.drop_column(column)
