"""What the API takes and gives that belongs to no one domain: the error body, the health
and KPI answers, the equipment registry; and the bases of every domain's API models
(`cloud.<domain>.schemas`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
)

from cloud.cluster.health import ClusterHealth
from cloud.enums import EquipmentStatus
from cloud.locale import Text
from cloud.locale.composed import rendered, rendered_paragraphs
from cloud.locale.shipped import location, shipped, shipped_paragraphs
from plantroom.canonical import CANONICAL

ChannelIn = Literal["api", "cli", "console"]
CHANNEL_DESCRIPTION = "where the person acted from, for the audit trail"


class OutModel(BaseModel):
    """An answer: frozen, and read from a database row with `model_validate(row)`. A field
    named differently from the row's attribute reads either name (`AliasChoices`), and a field
    derived from the row converts what it is given only when it is not already the value, so
    that an answer's own dump validates again."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


READER = "reader"
"""The key of an answer's validation context that holds the caller's `Text`:
`WorkOrderOut.model_validate(row, context={READER: text})` gives the shipped plans' and
rules' texts in the caller's language (cloud/locale/shipped.py)."""


def reader_of(info: ValidationInfo) -> Text | None:
    """The caller's `Text` in the validation context, or None (stored texts as stored)."""
    context = info.context
    found = context.get(READER) if isinstance(context, dict) else None
    return found if isinstance(found, Text) else None


def _shipped_text(value: str | None, info: ValidationInfo) -> str | None:
    text = reader_of(info)
    return value if text is None or value is None else shipped(text, value)


def _location(value: str | None, info: ValidationInfo) -> str | None:
    text = reader_of(info)
    return value if text is None or value is None else location(text, value)


def _shipped_paragraphs(value: str | None, info: ValidationInfo) -> str | None:
    text = reader_of(info)
    if text is None or value is None:
        return value
    parts = info.data.get(DESCRIPTION_MESSAGE)
    if parts is not None:
        return rendered_paragraphs(value, parts, text)
    return shipped_paragraphs(text, value)


def _composed_note(value: str | None, info: ValidationInfo) -> str | None:
    return rendered(value, info.data.get(NOTE_MESSAGE), reader_of(info))


ShippedText = Annotated[str, AfterValidator(_shipped_text)]
"""A stored text that may be a shipped plan's or rule's: in the caller's language."""
Location = Annotated[str | None, AfterValidator(_location)]
"""A job's location: its floor in the caller's language when the service wrote it."""
ShippedParagraphs = Annotated[str | None, AfterValidator(_shipped_paragraphs)]
"""A stored description whose paragraphs may be shipped texts: in the caller's language;
the parts it was composed of (a field `description_message` before it) when it has them."""
ComposedNote = Annotated[str | None, AfterValidator(_composed_note)]
"""An audit-trail note: in the caller's language when the service composed it (a field
`note_message` before it holds its message, `cloud.locale.composed`); as written if not."""

NOTE_MESSAGE = "note_message"
DESCRIPTION_MESSAGE = "description_message"
COMPOSED = "the message and parameters the service wrote the text from (cloud.locale.composed)"


def examples(*given: dict[str, Any]) -> ConfigDict:
    """The configuration of a request body: no unknown fields, and `given` as its examples."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(given)})


class ErrorDetail(OutModel):
    code: str = Field(description="stable, machine-readable")
    message: str = Field(description="for people: what was wrong and what to do")
    details: list[dict[str, Any]] | None = None


class ErrorBody(OutModel):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_transition",
                        "message": "cannot acknowledge a work order that is in_progress "
                        "(only when open)",
                    }
                }
            ]
        },
    )

    error: ErrorDetail


class EquipmentOut(OutModel):
    id: str
    site: str
    building: str
    kind: str
    floor: str | None
    zone: str | None
    name: str | None
    profile: str
    tags: dict[str, Any]
    in_inventory: bool
    status: EquipmentStatus
    status_changed_at: datetime | None
    last_seen: datetime | None
    last_sample_at: datetime | None = Field(
        validation_alias=AliasChoices("last_sample_at", "last_ts"),
        description="edge time of the last sample",
    )
    last_seq: int | None
    last_values: dict[str, Any]
    connected: bool = Field(
        default=True, description="has telemetry (from the inventory); false: register-only"
    )
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    install_date: date | None = None
    warranty_end: date | None = None
    supplier: str | None = None
    documents: list[dict[str, str]] = Field(
        default_factory=list, description="[{title, url}]: manuals, certificates, drawings"
    )

    @field_validator("documents", mode="before")
    @classmethod
    def _documents(cls, value: Any) -> Any:
        return [] if value is None else value


class EquipmentDetailOut(EquipmentOut):
    """One piece of equipment, with the unit of each of its kind's numeric points."""

    @computed_field(  # type: ignore[prop-decorator]
        description="point name -> canonical unit (pint syntax, `1` for a pure number) of the"
        " kind's numbers and counters (plantroom/canonical.py); other points have none"
    )
    @property
    def units(self) -> dict[str, str]:
        return {
            name: point.unit
            for name, point in CANONICAL.get(self.kind, {}).items()
            if point.unit is not None
        }


class EquipmentPage(OutModel):
    items: list[EquipmentOut]
    total: int


class EdgeClock(OutModel):
    """One edge agent's clock as measured from its health reports (see cloud/clockskew.py)."""

    agent: str
    skew_s: float = Field(
        description="receive time - report time, lower quartile of the last reports: positive"
        " when the agent's clock is behind (or its reports are delayed), negative when ahead"
    )
    reports: int
    last_report_at: datetime
    off: bool = Field(
        default=False, description="the skew is beyond max_clock_skew_s: the service is degraded"
    )


class IntakeLag(OutModel):
    """How far behind the telemetry intake is (docs/api.md#the-intake-under-overload)."""

    urgent_queued: int = Field(
        description="alarm and state changes waiting (status, fault bits, states, thresholds)"
    )
    routine_queued: int = Field(description="routine samples waiting, one entry per equipment")
    coalesced: int = Field(
        description="routine samples folded into one of their equipment's waiting (not lost)"
    )
    oldest_wait_s: float = Field(description="how long the oldest waiting message has waited")
    urgent_delay_s: float | None = Field(
        description="arrival → processed of the slowest alarm or state change of the latest"
        " batch that had one"
    )
    routine_delay_s: float | None = Field(
        description="arrival → processed of the slowest routine sample of the latest batch"
        " that had one"
    )
    bound_s: float = Field(description="an oldest wait beyond this raises the system alarm")
    behind: bool = Field(description="beyond the bound: `telemetry_intake_behind` is raised")


class MqttHealth(OutModel):
    enabled: bool
    connected: bool
    received: int
    invalid: int
    future: int = Field(
        description="of the invalid: samples stamped further ahead than the allowed clock skew"
    )
    dead_lettered: int = Field(description="messages that failed processing even on their own")
    dropped: int
    queued: int
    refused_points: int = Field(
        default=0,
        description="sample points dropped because their equipment's profile has no such point"
        " or expects another type (the sample's other points are kept)",
    )
    refused_alarm_points: int = Field(
        default=0, description="of the refused points: points of role alarm"
    )
    last_refused_point: str | None = Field(
        default=None, description="why the latest point was refused: equipment, point, type"
    )
    unchecked_equipment: list[str] = Field(
        default_factory=list,
        description="equipment whose profile the cloud's library lacks: its points are taken"
        " unchecked",
    )
    edge_clocks: list[EdgeClock]
    intake: IntakeLag | None = None


class Counts(OutModel):
    equipment: int
    active_alarms: int
    open_work_orders: int
    active_system_alarms: int = Field(
        default=0, description="alarms about the service itself (`GET /api/system-alarms`)"
    )


class LaneLoad(OutModel):
    """One admission lane of the process that answered (docs/api.md#overload)."""

    in_progress: int
    waiting: int = Field(description="requests waiting for a place now")
    served: int = Field(description="requests let in since start, at once or after waiting")
    shed: int = Field(
        description="requests answered 503 `overloaded` since start: the queue was full, or"
        " their wait ran out"
    )
    gone: int = Field(description="requests dropped unserved: the client left while it waited")


class Health(OutModel):
    status: Literal["ok", "degraded", "down"]
    problems: list[str] = Field(
        default_factory=list,
        description="why the status is not ok: no database, no broker, an edge agent's clock"
        " beyond the allowed skew (named)",
    )
    database: bool
    mqtt: MqttHealth
    rules: int
    counts: Counts | None
    system_alarms: list[str] = Field(
        default_factory=list,
        description="the active system alarms, `<code> on <subject>: <message>` (at most 20;"
        " `counts.active_system_alarms` has how many)",
    )
    load: dict[str, LaneLoad] = Field(
        default_factory=dict,
        description="this API process's admission lanes (`api`, `monitor`): requests in"
        " progress, waiting, served, shed and dropped",
    )
    cluster: ClusterHealth | None = Field(
        default=None,
        description="with PLANTROOM_CLOUD_CLUSTER: this process's site leases, the cluster's",
    )


class NotifyHealth(OutModel):
    """Delivery to one receiver (webhook URL, Grafana, InfluxDB)."""

    name: str
    delivered: int
    retries: int
    dropped: int
    queued: int
    last_error: str | None


# -- KPIs ---------------------------------------------------------------------------------


class IndicatorOut(OutModel):
    name: str
    value: float | None = Field(description="null when there was nothing to measure")
    unit: Literal["s", "%", "score"] = Field(description="seconds, percent, or a 1 to 5 score")
    target: float | None
    met: bool | None
    numerator: float = Field(description="hits for a rate, total seconds for a mean")
    denominator: int = Field(description="jobs (or equipment) measured")


class KpiCounts(OutModel):
    raised: int
    open: int
    acknowledged: int
    in_progress: int
    on_hold: int
    resolved: int
    closed: int
    cancelled: int
    overdue: int
    reopened: int


class KpiOut(OutModel):
    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "building": "tower-a",
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "as_of": "2026-12-01T00:00:00Z",
                    "counts": {
                        "raised": 12,
                        "open": 1,
                        "acknowledged": 0,
                        "in_progress": 1,
                        "on_hold": 0,
                        "resolved": 2,
                        "closed": 8,
                        "cancelled": 0,
                        "overdue": 0,
                        "reopened": 1,
                    },
                    "indicators": {
                        "sla_compliance_pct": {
                            "name": "Repairs completed on time",
                            "value": 90.0,
                            "unit": "%",
                            "target": 99.0,
                            "met": False,
                            "numerator": 9,
                            "denominator": 10,
                        }
                    },
                }
            ]
        },
    )

    building: str | None
    site: str | None = Field(
        default=None, description="the site measured; none: every site the caller sees"
    )
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    as_of: datetime = Field(description="good order is measured at this instant")
    counts: KpiCounts
    indicators: dict[str, IndicatorOut]


class SiteKpisOut(OutModel):
    """The indicators of every site the caller sees, side by side, and of them all."""

    portfolio: KpiOut = Field(description="every site the caller sees, together")
    sites: list[KpiOut] = Field(description="one per site, in the service's order")


class SiteOut(OutModel):
    id: str
    name: str | None
    time_zone: str = Field(description="IANA time zone of the site's times of day")
