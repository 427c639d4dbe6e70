"""The database connection: engine, sessions and migrations.

SQLite (the default) is opened in WAL mode with foreign keys on and a busy timeout, its parent
directory created; any other SQLAlchemy URL (PostgreSQL) is used as given. The schema is
owned by the Alembic migrations shipped in `cloud/migrations/`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from plantroom.errors import ConfigError, ServiceError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"PLANTROOM_DATABASE_URL: not a database URL: {url!r}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file its folder is created and its pragmas set."""
    parsed = _parse_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ConfigError(
                f"PLANTROOM_DATABASE_URL: {url!r} is not a SQLite file; the cloud service shares "
                "its database between threads, use e.g. sqlite:///var/cloud/plantroom.sqlite"
            )
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"PLANTROOM_DATABASE_URL: cannot create the folder {folder}: {exc.strerror or exc}"
            ) from exc
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"PLANTROOM_DATABASE_URL: cannot use {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine | None = None) -> Config:
    """The Alembic configuration for the shipped migrations, bound to `engine` if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest migration."""
    cfg = alembic_config(engine)
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
    except (SQLAlchemyError, CommandError) as exc:
        raise ServiceError(f"database {engine.url!r}: migration failed: {exc}") from exc


class Database:
    """The engine and a session factory, created once per process."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        migrate(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database ping failed: %s", exc)
            return False
        return True

    def close(self) -> None:
        self.engine.dispose()
