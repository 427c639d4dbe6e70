"""The migrations have one head, and a database of the first release (schema 0001) with data
in it upgrades to that head keeping its data, which the service then works on.

`release_one` and `check_upgraded` are shared with the PostgreSQL test
(tests/cloud/test_postgres.py)."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from cloud.db import Database, alembic_config
from tests.cloud.releases import check_upgraded, release_one


def test_the_migrations_have_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"more than one migration head: {heads}; add a merge revision"
    assert script.get_base() == "0001"


def test_a_first_release_database_upgrades_to_the_head_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/release-one.sqlite")
    try:
        release_one(db)
        check_upgraded(db)
    finally:
        db.close()
