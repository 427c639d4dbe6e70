"""What the API takes and gives about rotas, covers and who is on call."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, model_validator

from cloud.oncall import hours
from cloud.oncall.model import Routine
from cloud.oncall.rota import Rotation
from cloud.schemas import OutModel, examples
from cloud.users.schemas import UserRef

MAX_MEMBERS = 50  # people in one rota's turn


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known IANA time zone (e.g. Europe/London)") from None
    return name


def _time(name: str, end: bool = False) -> AfterValidator:
    return AfterValidator(lambda text: (hours.minutes(text, field=name, end=end), text)[1])


Username = Annotated[str, Field(min_length=1, max_length=64)]
Zone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
Weekday = Annotated[int, Field(ge=1, le=7)]


class RotaIn(BaseModel):
    """A team's rota, replacing the one it has."""

    model_config = examples(
        {
            "rotation": "weekly",
            "handover": "08:00",
            "starts_on": "2026-03-02",
            "members": ["tech1", "tech2"],
            "routine": "hours",
            "hours_start": "08:00",
            "hours_end": "18:00",
            "work_days": [1, 2, 3, 4, 5],
        }
    )

    rotation: Rotation = Rotation.WEEKLY
    handover: Annotated[str, _time("handover")] = "08:00"
    timezone: Zone | None = Field(default=None, description="the site's when not given")
    starts_on: date = Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))
    members: list[Username] = Field(min_length=1, max_length=MAX_MEMBERS)
    backup: Username | None = Field(default=None, description="else the next in the rotation")
    supervisor: Username | None = Field(
        default=None, description="else the team's supervisor, else the site's"
    )
    manager: Username | None = Field(default=None, description="else the site's first admin")
    routine: Routine = Routine.HOURS
    hours_start: Annotated[str, _time("hours_start")] = "08:00"
    hours_end: Annotated[str, _time("hours_end", end=True)] = "18:00"
    work_days: list[Weekday] = Field(default=[1, 2, 3, 4, 5], min_length=1, max_length=7)
    digest_at: Annotated[str, _time("digest_at")] = "08:00"

    @model_validator(mode="after")
    def _consistent(self) -> RotaIn:
        if len(set(self.members)) != len(self.members):
            raise ValueError("members: each person once")
        if hours.minutes(self.hours_end, field="hours_end", end=True) <= hours.minutes(
            self.hours_start, field="hours_start"
        ):
            raise ValueError(f"hours_end {self.hours_end} must come after {self.hours_start}")
        return self


class CoverIn(BaseModel):
    """`user` is on call instead of the rotation's from `starts_at` to `ends_at`."""

    model_config = examples(
        {"user": "tech2", "starts_at": "2026-03-03T18:00:00Z", "ends_at": "2026-03-04T08:00:00Z"}
    )

    user: Username
    starts_at: datetime
    ends_at: datetime
    note: str | None = Field(default=None, max_length=256)


class SwapIn(BaseModel):
    """The people on duty at `first` and at `second` exchange those two shifts."""

    model_config = examples({"first": "2026-03-03T12:00:00Z", "second": "2026-03-10T12:00:00Z"})

    first: datetime
    second: datetime
    note: str | None = Field(default=None, max_length=256)


class CoverOut(OutModel):
    id: int
    kind: str
    user: UserRef
    starts_at: datetime
    ends_at: datetime
    pair_id: int | None
    note: str | None
    created_by: UserRef | None
    created_at: datetime


class ShiftOut(BaseModel):
    index: int
    starts_at: datetime
    ends_at: datetime
    scheduled: UserRef | None
    backup: UserRef | None


class RotaOut(BaseModel):
    team: str
    building: str | None
    rotation: Rotation
    handover: str
    timezone: str
    starts_on: date = Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))
    members: list[UserRef]
    backup: UserRef | None
    supervisor: UserRef | None
    manager: UserRef | None
    routine: Routine
    hours_start: str
    hours_end: str
    work_days: list[int]
    digest_at: str
    shifts: list[ShiftOut] = Field(description="the shift under way and the next ones")
    covers: list[CoverOut] = Field(description="covers not yet over, by start")


class OnCallOut(BaseModel):
    team: str
    building: str | None
    at: datetime
    has_rota: bool
    primary: UserRef | None
    backup: UserRef | None
    supervisor: UserRef | None
    manager: UserRef | None
    shift: ShiftOut | None
    cover: CoverOut | None = Field(description="the override or swap that put `primary` there")
    within_hours: bool | None = Field(description="inside the team's working hours, if a rota")
