"""The rule engine's history in parts, so that saving it writes only what is new.

Revision ID: 0022_costs_rule_history
Revises: 0021_srvtext_composed_notes
Create Date: 2026-12-06

`rule_history` holds, per piece of equipment and point, its rate, trend and counter history
in numbered parts of a few dozen samples; `rule_states.data` keeps the rule timers. A row of
`rule_states` written before this revision still holds its history under `history`: the
service reads it from there until it next saves that piece of equipment, which moves it into
`rule_history` (see `cloud.rulestore`). A downgrade drops the parts: rate, trend and counter
windows then start again empty, the rule timers are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_costs_rule_history"
down_revision: str | None = "0021_srvtext_composed_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_history",
        sa.Column("equipment_id", sa.String(64), nullable=False),
        sa.Column("point", sa.String(64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("samples", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_rule_history_equipment_id_equipment"),
        ),
        sa.PrimaryKeyConstraint("equipment_id", "point", "part", name=op.f("pk_rule_history")),
    )


def downgrade() -> None:
    op.drop_table("rule_history")
