"""The cloud schema on PostgreSQL: the migrations apply to an empty database, the
work-orders migration goes down and up again, the ORM agrees with what was built, and a
database of the first release upgrades to the head keeping its data."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from cloud.db import Database, alembic_config
from cloud.orm import Base
from tests.cloud.releases import check_upgraded, release_one

pytestmark = pytest.mark.integration


LIST_INDEXES = {
    "ix_work_orders_status_building_created_at",
    "ix_work_orders_status_kind_created_at",
    "ix_work_orders_status_priority_created_at",
}


def indexes(db: Database, table: str) -> set[str]:
    return {str(i["name"]) for i in inspect(db.engine).get_indexes(table)}


def columns(db: Database, table: str) -> dict[str, bool]:
    return {c["name"]: c["nullable"] for c in inspect(db.engine).get_columns(table)}


def test_migrations_up_down_up(schema_url: str) -> None:
    db = Database(schema_url)
    try:
        db.migrate()
        tables = set(inspect(db.engine).get_table_names())
        assert {"teams", "team_members", "work_order_attachments", "notifications"} <= tables
        # every table and column the ORM maps exists
        for table in Base.metadata.sorted_tables:
            assert table.name in tables, table.name
            have = columns(db, table.name)
            missing = {c.name for c in table.columns} - set(have)
            assert not missing, f"{table.name} lacks {missing}"
        assert columns(db, "work_orders")["opened_at"] is False  # NOT NULL on PostgreSQL
        last_seq = next(
            c for c in inspect(db.engine).get_columns("equipment") if c["name"] == "last_seq"
        )
        assert str(last_seq["type"]) == "BIGINT"  # the contract's seq runs to 2^63-1

        assert indexes(db, "work_orders") >= LIST_INDEXES

        cfg = alembic_config(db.engine)
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0002_workorders")  # the branch's newest first
        assert not LIST_INDEXES & indexes(db, "work_orders")
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0002_workorders@-1")
        assert "teams" not in inspect(db.engine).get_table_names()
        assert "opened_at" not in columns(db, "work_orders")
        db.migrate()
        assert "teams" in inspect(db.engine).get_table_names()
        assert indexes(db, "work_orders") >= LIST_INDEXES
    finally:
        db.close()


def test_a_first_release_database_upgrades_to_the_head(schema_url: str) -> None:
    db = Database(schema_url)
    try:
        release_one(db)
        check_upgraded(db)
    finally:
        db.close()
