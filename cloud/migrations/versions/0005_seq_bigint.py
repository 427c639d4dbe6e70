"""equipment.last_seq as BIGINT: the telemetry contract's `seq` runs to 2^63-1.

Revision ID: 0005_seq_bigint
Revises: 0004_merge_heads
Create Date: 2026-12-06

An INTEGER column holds 2^31-1 on PostgreSQL, so a sample with a larger `seq`, valid by the
contract, failed its whole batch there. SQLite's INTEGER already holds 64 bits, so SQLite is
left as it is (re-creating the table there would fight the foreign keys that point at it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_seq_bigint"
down_revision: str | None = "0004_merge_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column(
        "equipment",
        "last_seq",
        existing_type=sa.Integer(),
        type_=sa.BigInteger(),
        existing_nullable=True,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column(
        "equipment",
        "last_seq",
        existing_type=sa.BigInteger(),
        type_=sa.Integer(),
        existing_nullable=True,
    )
