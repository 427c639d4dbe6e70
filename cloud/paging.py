"""Lists served a page at a time: a query narrowed by the optional filters a caller gave,
and one page of it with how many rows match in all."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import QueryableAttribute, Session

T = TypeVar("T")


def where_equal(
    query: Select[T], *filters: tuple[QueryableAttribute[Any], object | None]
) -> Select[T]:
    """`query` narrowed to the rows whose column equals each value given; a filter whose
    value is None narrows nothing (the caller did not ask)."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


def page(
    session: Session,
    query: Select[T],
    *order: ColumnElement[Any] | QueryableAttribute[Any],
    limit: int | None,
    offset: int,
) -> tuple[list[T], int]:
    """The rows of `query` in `order` from `offset` on, at most `limit` of them, and how many
    rows the query matches in all."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total
