"""What the API takes and gives about alarms."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from cloud.alarms.messages import alarm_message, shelved_reason
from cloud.enums import AlarmState, Severity
from cloud.schemas import COMPOSED, ComposedNote, OutModel, reader_of
from cloud.users.schemas import Username


def _in_language(value: str, info: ValidationInfo) -> str:
    text = reader_of(info)
    return value if text is None else alarm_message(text, value)


AlarmMessage = Annotated[str, AfterValidator(_in_language)]
"""A rule's alarm message: its title and its points' values in the caller's language."""


def _reason_in_language(value: str | None, info: ValidationInfo) -> str | None:
    text = reader_of(info)
    return value if text is None or value is None else shelved_reason(text, value)


ShelvedReason = Annotated[str | None, AfterValidator(_reason_in_language)]
"""Why an alarm is shelved: the service's words in the caller's language."""


class AlarmOut(OutModel):
    id: int
    equipment_id: str
    site: str | None = Field(default=None, description="its equipment's site")
    rule_id: str
    severity: Severity
    state: AlarmState
    message: AlarmMessage
    last_value: dict[str, Any]
    raised_at: datetime
    last_raised_at: datetime
    occurrences: int
    cleared_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: Username | None
    shelved_until: datetime | None = Field(
        description="set aside until then (it stays active); past or null: not shelved"
    )
    shelved_reason: ShelvedReason
    shelved_by: str | None


class AlarmPage(OutModel):
    items: list[AlarmOut]
    total: int
    limit: int
    offset: int


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


MAX_SHELVE_MINUTES = 24 * 60


class ShelveIn(BaseModel):
    """Set an alarm aside for a bounded time, saying why."""

    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(ge=5, le=MAX_SHELVE_MINUTES, description="5 minutes to 24 hours")
    reason: str = Field(min_length=3, max_length=500)


class AlarmAckOut(AlarmOut):
    lifecycle: str


class SystemAlarmOut(OutModel):
    """An alarm about the service itself: `code` says what is wrong, `subject` with what."""

    id: int
    code: str
    subject: str
    severity: Severity
    state: AlarmState
    message: str
    details: dict[str, Any]
    raised_at: datetime
    last_raised_at: datetime
    cleared_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: Username | None


class SystemAlarmEventOut(OutModel):
    at: datetime
    action: str
    actor: str
    note_message: dict[str, Any] | None = Field(default=None, description=COMPOSED)
    note: ComposedNote
    details: dict[str, Any] | None


class SystemAlarmDetail(SystemAlarmOut):
    events: list[SystemAlarmEventOut]


class SystemAlarmPage(OutModel):
    items: list[SystemAlarmOut]
    total: int
    limit: int
    offset: int
