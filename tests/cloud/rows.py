"""Rows the tests look up by what they know of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.equipment import Equipment


def equipment_row(session: Session, equipment_id: str) -> Equipment | None:
    """The equipment of this id in a database of one site (an id is unique within its site:
    raises if two sites use it)."""
    return session.scalars(select(Equipment).where(Equipment.id == equipment_id)).one_or_none()
