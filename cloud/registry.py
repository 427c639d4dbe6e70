"""The equipment registry: the inventory's equipment in the database, with what telemetry
last said about each."""

from __future__ import annotations

import logging

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cloud.enums import EquipmentStatus
from cloud.equipment import Equipment
from cloud.paging import where_equal
from cloud.users.sites import find_equipment
from plantroom.inventory import Inventory

log = logging.getLogger(__name__)
# what a text search looks in
SEARCHED = (
    Equipment.id,
    Equipment.name,
    Equipment.make,
    Equipment.model,
    Equipment.serial,
    Equipment.supplier,
)


def sync_inventory(session: Session, inventory: Inventory) -> tuple[int, int, int]:
    """Add and update the inventory's equipment; mark the site's equipment no longer in it.

    Equipment is never deleted (its alarms and work orders keep pointing at it); an id is
    the site's own (another site's equipment of the same id is another piece). Returns the
    counts added, updated and retired.
    """
    site = inventory.site.id
    known = {e.id: e for e in session.scalars(select(Equipment).where(Equipment.site == site))}
    seen: set[str] = set()
    added = updated = 0
    for building, item in inventory.equipment():
        seen.add(item.id)
        fields = {
            "building": building.id,
            "kind": item.kind.value,
            "floor": item.floor,
            "zone": item.zone,
            "name": item.name,
            "profile": item.profile,
            "tags": dict(item.tags),
            "in_inventory": True,
            "connected": True,  # a register-only asset of this id is adopted by the inventory
        }
        row = known.get(item.id)
        if row is None:
            session.add(
                Equipment(
                    site=site, id=item.id, status=EquipmentStatus.UNKNOWN, last_values={}, **fields
                )
            )
            added += 1
            continue
        changed = False
        for name, value in fields.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        updated += changed
    retired = 0
    for row in known.values():
        if row.id in seen or not row.connected:  # register-only assets are the register's
            continue
        if row.in_inventory:
            row.in_inventory = False
            retired += 1
    session.flush()
    log.info(
        "inventory %s: %d equipment added, %d updated, %d retired",
        site,
        added,
        updated,
        retired,
    )
    return added, updated, retired


def get(session: Session, equipment_id: str, site: str | None = None) -> Equipment:
    """The equipment `equipment_id` the caller sees (of `site`, when its id is used at several
    of their sites; see `find_equipment`)."""
    return find_equipment(session, equipment_id, site)


def search(
    session: Session,
    *,
    building: str | None = None,
    kind: str | None = None,
    status: EquipmentStatus | None = None,
    include_retired: bool = False,
    connected: bool | None = None,
    text: str | None = None,
    sites: frozenset[str] | None = None,
    limit: int | None = None,
) -> list[Equipment]:
    """By building then id; `connected` false for the register-only assets (cloud.assets),
    `text` found in the id, name, make, model, serial or supplier."""
    query = select(Equipment)
    if sites is not None:
        query = query.where(Equipment.site.in_(sorted(sites)))
    query = where_equal(
        query, (Equipment.building, building), (Equipment.kind, kind), (Equipment.status, status)
    )
    if not include_retired:
        query = query.where(Equipment.in_inventory.is_(True))
    if connected is not None:
        query = query.where(Equipment.connected.is_(connected))
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(*(func.lower(c).like(f"%{escaped}%", escape="\\") for c in SEARCHED))
        )
    query = query.order_by(Equipment.building, Equipment.id, Equipment.site).limit(limit)
    return list(session.scalars(query).all())


def count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Equipment).where(Equipment.in_inventory.is_(True))
        )
        or 0
    )
