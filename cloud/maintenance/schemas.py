"""What the API takes and gives about maintenance windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from cloud.schemas import COMPOSED, ComposedNote, OutModel, examples


class MaintenanceIn(BaseModel):
    """Put one piece of equipment, or a whole building, in maintenance: until `ends_at`, or
    for `minutes` from its start; from `starts_at`, or from now."""

    model_config = examples(
        {"equipment_id": "b01-pump-1", "minutes": 120, "reason": "Seal replacement, pump isolated"},
        {
            "building": "b01",
            "starts_at": "2026-12-07T01:00:00Z",
            "ends_at": "2026-12-07T05:00:00Z",
            "reason": "Planned power shutdown",
        },
    )

    equipment_id: str | None = Field(default=None, min_length=1, max_length=64)
    site: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the equipment's site, when its id is used at several of yours",
    )
    building: str | None = Field(default=None, min_length=1, max_length=64)
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime | None = Field(default=None, description="or give `minutes`")
    minutes: int | None = Field(default=None, ge=5, le=366 * 24 * 60)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _one_end(self) -> MaintenanceIn:
        if (self.ends_at is None) == (self.minutes is None):
            raise ValueError("give ends_at or minutes, exactly one of the two")
        return self


class EndIn(BaseModel):
    model_config = examples({"note": "Pump back in service"})

    note: str | None = Field(default=None, max_length=2000)


class MaintenanceEventOut(OutModel):
    at: datetime
    action: str
    actor: str
    note_message: dict[str, Any] | None = Field(default=None, description=COMPOSED)
    note: ComposedNote
    details: dict[str, Any] | None


class MaintenanceOut(OutModel):
    id: int
    equipment_id: str | None
    site: str | None
    building: str | None
    starts_at: datetime
    ends_at: datetime
    until: datetime = Field(description="when it stops holding alarms: ends_at, or ended_at")
    reason: str
    created_at: datetime
    created_by: str
    ended_at: datetime | None
    ended_by: str | None
    work_order_id: int | None = Field(description="the PM job in progress that opened it")
    settled_at: datetime | None
    events: list[MaintenanceEventOut] = Field(default_factory=list)
