"""Merge the two lines of migrations that grew from the first release's schema.

Revision ID: 0004_merge_heads
Revises: 0002_rules_pm, 0003_list_indexes
Create Date: 2026-12-07

Work orders and SLA (0002_workorders, then 0003_list_indexes) and rule state, incidents and
preventive maintenance (0002_rules_pm) were both written on top of 0001 and touch different
tables and columns, so they apply in either order. This revision joins them into one line,
so the schema has a single head again and `alembic upgrade head` names it; it changes no
table. Every migration after it revises it (or a later single head).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_merge_heads"
down_revision: str | Sequence[str] | None = ("0002_rules_pm", "0003_list_indexes")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Both parents are applied by now; joining them changes no table."""


def downgrade() -> None:
    """Back to the two heads; no table changes."""
