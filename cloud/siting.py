"""The site of a new record: alarms, work orders, PM schedules and repair requests are given
their site as they are inserted, from their equipment's site, else from the site of their
building's equipment (migration 0018_sites), wherever in the service they are created.

One place rather than each creator: the records are made by many parts of the service (rules,
PM, the desk, the public report page, people), each of which knows the equipment or the
building and none of which needs to know the site.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Mapper

from cloud.alarms.model import Alarm
from cloud.equipment import Equipment
from cloud.requests.model import RepairRequest
from cloud.workorders.model import PmSchedule, WorkOrder


class Sited(Protocol):
    site: str | None
    equipment_id: str | None


def site_for(connection: Connection, equipment_id: str | None, building: str | None) -> str | None:
    """The site of a record of `equipment_id` (an id of one site only) or else of `building`;
    None when the registry knows neither. A creator that knows its equipment's site sets it,
    or hands over the equipment itself: an id may be used at several sites."""
    if equipment_id is not None:
        found = connection.scalars(
            select(Equipment.site).where(Equipment.id == equipment_id).limit(2)
        ).all()
        if len(found) == 1:
            return found[0]
    if building is None:
        return None
    return connection.scalar(select(func.min(Equipment.site)).where(Equipment.building == building))


def _fill(_mapper: Mapper[Any], connection: Connection, target: Sited) -> None:
    if target.site is not None:
        return
    loaded = vars(target).get("equipment")  # the equipment already in hand: no query
    if isinstance(loaded, Equipment):
        target.site = loaded.site
        return
    target.site = site_for(connection, target.equipment_id, getattr(target, "building", None))


for _model in (Alarm, WorkOrder, PmSchedule, RepairRequest):
    event.listen(_model, "before_insert", _fill)
