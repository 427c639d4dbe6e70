"""What the API gives about building incidents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field

from cloud.enums import AlarmState
from cloud.schemas import OutModel


def _ids(rows: Iterable[Any]) -> list[Any]:
    return [getattr(row, "id", row) for row in rows]


def _numbers(rows: Iterable[Any]) -> list[Any]:
    return [getattr(row, "number", row) for row in rows]


class IncidentOut(OutModel):
    id: int
    building: str
    kind: str
    state: AlarmState
    title: str
    devices_lost: int
    started_at: datetime
    cleared_at: datetime | None
    alarm_ids: Annotated[list[int], BeforeValidator(_ids)] = Field(
        validation_alias=AliasChoices("alarm_ids", "alarms")
    )
    work_orders: Annotated[list[str], BeforeValidator(_numbers)]
