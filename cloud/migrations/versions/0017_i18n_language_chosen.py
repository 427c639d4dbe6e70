"""Whether a person chose their language, or it is still the browser's.

Revision ID: 0017_i18n_language_chosen
Revises: 0016_contractors
Create Date: 2026-12-06

`users.language_chosen` is true once the person picked their language (the console's switch,
`PATCH /api/users/me`, `PUT /api/me/language`); until then the console opens in the browser's
language and records it in `users.language`, so that messages follow it. Existing users have
not chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_i18n_language_chosen"
down_revision: str | None = "0016_contractors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch would copy `users`, which other tables' keys point at
    op.add_column(
        "users",
        sa.Column("language_chosen", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("users", "language_chosen")
