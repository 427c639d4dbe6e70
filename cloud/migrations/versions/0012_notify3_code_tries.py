"""Wrong verification codes are counted: after `PLANTROOM_NOTIFY_CODE_MAX_TRIES` the code a
"send me a test" message carried is void and a new test must be asked for.

Revision ID: 0012_notify3_code_tries
Revises: 0011_requests
Create Date: 2026-12-06

One column added (never a rebuild, see 0002_rules_pm); existing rows start at no wrong tries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_notify3_code_tries"
down_revision: str | None = "0011_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contact_points",
        sa.Column(
            "code_tries",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="wrong codes given since the last test message",
        ),
    )


def downgrade() -> None:
    op.drop_column("contact_points", "code_tries")
