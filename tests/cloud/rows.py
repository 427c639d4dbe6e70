"""Rows the tests look up by what they know of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.equipment import Equipment


def equipment_row(session: Session, equipment_id: str, site: str | None = None) -> Equipment | None:
    """The equipment of this id (of `site`; without one, the database must have one piece of
    that id: an id is unique within its site only, and this raises if two sites use it)."""
    if site is not None:
        return session.get(Equipment, (site, equipment_id))
    return session.scalars(select(Equipment).where(Equipment.id == equipment_id)).one_or_none()
