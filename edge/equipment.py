"""One piece of equipment the agent serves, with the state the agent keeps for it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edge.availability import Availability
from edge.report import ChangeTracker, ReportFilter
from plantroom.profiles import Assignment
from plantroom.topics import EquipmentTopic

RECENT_VENDOR_TS = 64


@dataclass(slots=True)
class ServedEquipment:
    """The equipment's profile and topics, its availability, its report-by-exception state
    and its sample counters."""

    assignment: Assignment
    topic: EquipmentTopic
    availability: Availability
    report: ReportFilter
    changes: ChangeTracker
    last_heard: float | None = None
    samples: int = 0
    duplicates: int = 0
    # timestamps of the last vendor samples: a message the broker delivers again after a
    # reconnect carries one of them and is not a new sample
    recent_ts: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_VENDOR_TS))
    id: str = field(init=False)
    telemetry_topic: str = field(init=False)  # built once, not per sample

    def __post_init__(self) -> None:
        self.id = self.assignment.equipment.id
        self.telemetry_topic = self.topic.telemetry()
