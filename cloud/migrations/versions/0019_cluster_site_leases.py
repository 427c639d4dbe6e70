"""Site leases: cloud processes on one database share rule evaluation out by site.

Revision ID: 0019_cluster_site_leases
Revises: 0018_sites
Create Date: 2026-12-06

`site_leases` holds, per site, the process evaluating its rules until `expires_at` and the
`epoch` of that acquisition (the fencing counter); `cluster_members` the processes taking part,
each alive until its `expires_at` (see `cloud.cluster`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_cluster_site_leases"
down_revision: str | None = "0018_sites"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_leases",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column(
            "holder",
            sa.String(128),
            nullable=True,
            comment="the process holding the lease; NULL once released",
        ),
        sa.Column("epoch", sa.BigInteger(), nullable=False, comment="+1 at each acquisition"),
        sa.Column("acquired_at", sa.DateTime(), nullable=True),
        sa.Column("renewed_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False, comment="free to take after this"),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_site_leases")),
    )
    op.create_table(
        "cluster_members",
        sa.Column("process_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process_id", name=op.f("pk_cluster_members")),
    )
    op.create_index(
        op.f("ix_cluster_members_expires_at"), "cluster_members", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_cluster_members_expires_at"), table_name="cluster_members")
    op.drop_table("cluster_members")
    op.drop_table("site_leases")
