"""Optional equality filters and a page of a query with its total (cloud.paging), on an
in-memory SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cloud.enums import Role
from cloud.orm import Base
from cloud.paging import page, where_equal
from cloud.users.model import User

AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for n, role in enumerate([Role.TECHNICIAN, Role.ADMIN, Role.TECHNICIAN, Role.ENGINEER]):
            session.add(
                User(username=f"u{n}", role=role, password_hash="x", active=n != 2, created_at=AT)
            )
        session.flush()
        yield session
    engine.dispose()


def test_a_filter_given_none_narrows_nothing(session: Session) -> None:
    query = where_equal(select(User), (User.role, None), (User.username, None))
    rows, total = page(session, query, User.username, limit=None, offset=0)
    assert total == 4 and [u.username for u in rows] == ["u0", "u1", "u2", "u3"]


def test_filters_given_a_value_all_hold(session: Session) -> None:
    query = where_equal(select(User), (User.role, Role.TECHNICIAN), (User.active, True))
    rows, total = page(session, query, User.username, limit=10, offset=0)
    assert total == 1 and [u.username for u in rows] == ["u0"]


def test_a_page_is_cut_from_the_ordered_rows_and_the_total_counts_them_all(
    session: Session,
) -> None:
    rows, total = page(session, select(User), User.username.desc(), limit=2, offset=1)
    assert total == 4 and [u.username for u in rows] == ["u2", "u1"]
