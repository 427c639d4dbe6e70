"""The service desk: occupants' repair requests and their reporters' messages, follow-up
calls after repairs, and complaints.

Revision ID: 0011_requests
Revises: 0010_qr_alarm_shelve
Create Date: 2026-12-06

New tables only. A request's tracking token is unique; one follow-up decision per work order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_requests"
down_revision: str | None = "0010_qr_alarm_shelve"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{columns[0]}"), table, list(columns))


def upgrade() -> None:
    op.create_table(
        "repair_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "token",
            sa.String(43),
            nullable=False,
            comment="the reporter's tracking reference (random, 128 bits)",
        ),
        sa.Column(
            "source", sa.String(16), nullable=False, comment="public (a report) or desk (a call)"
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column(
            "location_code", sa.String(64), nullable=False, comment="equipment or building id"
        ),
        sa.Column("building", sa.String(64), nullable=False),
        sa.Column("equipment_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column(
            "urgency",
            sa.Enum(
                "emergency",
                "urgent",
                "normal",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("place", sa.String(200), nullable=True, comment="where exactly, in words"),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("reporter_name", sa.String(100), nullable=True),
        sa.Column("reporter_phone", sa.String(32), nullable=True),
        sa.Column("reporter_email", sa.String(254), nullable=True),
        sa.Column("contact_erased_at", sa.DateTime(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True, comment="JPEG, metadata stripped"),
        sa.Column("photo_type", sa.String(32), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("merged", sa.Boolean(), nullable=False, comment="joined a job already open"),
        sa.Column("logged_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "seen_event_id",
            sa.Integer(),
            nullable=False,
            comment="the job's last audit event turned into reporter updates",
        ),
        sa.Column("confirm_asked_at", sa.DateTime(), nullable=True),
        sa.Column("confirmation", sa.String(16), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column(
            "done_at",
            sa.DateTime(),
            nullable=True,
            comment="when the job ended for the reporter: closed or cancelled",
        ),
        _fk("repair_requests", "equipment_id", "equipment"),
        _fk("repair_requests", "logged_by_id", "users"),
        _fk("repair_requests", "work_order_id", "work_orders", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repair_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_repair_requests_token")),
    )
    for column in (
        "building",
        "confirm_asked_at",
        "created_at",
        "done_at",
        "equipment_id",
        "work_order_id",
    ):
        _index("repair_requests", column)
    op.create_index(
        "ix_repair_requests_code_category", "repair_requests", ["location_code", "category"]
    )

    op.create_table(
        "request_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False, comment="in the reporter's language"),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        _fk("request_updates", "request_id", "repair_requests", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_updates")),
    )
    _index("request_updates", "delivered_at")
    _index("request_updates", "request_id")

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True, comment="1 (poor) to 5 (very good)"),
        sa.Column("comment", sa.String(2000), nullable=True),
        sa.Column("caller_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        _fk("follow_ups", "caller_id", "users"),
        _fk("follow_ups", "work_order_id", "work_orders", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("work_order_id", name=op.f("uq_follow_ups_work_order_id")),
    )
    _index("follow_ups", "sampled")

    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("building", sa.String(64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("complainant", sa.String(100), nullable=True),
        sa.Column("contact", sa.String(254), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("logged_by_id", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column(
            "valid",
            sa.Boolean(),
            nullable=True,
            comment="upheld (true) or unfounded, once resolved",
        ),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        _fk("complaints", "logged_by_id", "users"),
        _fk("complaints", "owner_id", "users"),
        _fk("complaints", "work_order_id", "work_orders", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    for column in ("building", "received_at", "work_order_id"):
        _index("complaints", column)


def downgrade() -> None:
    op.drop_table("complaints")
    op.drop_table("follow_ups")
    op.drop_table("request_updates")
    op.drop_table("repair_requests")
