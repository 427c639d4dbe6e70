"""The `telemetry_intake_behind` system alarm: the cloud's telemetry intake lags beyond its
bound (`PLANTROOM_INTAKE_LAG_ALARM_S`).

The lag is measured and the decision taken in memory (`cloud.intake.LagWatch`: the oldest
waiting message older than the bound raises, under half the bound clears); this module writes
what changed, on the consumer's database thread, on subject `intake:<name>` (the consumer's
configured client id, or the host's name, so a restart finds its own alarm). At start-up an
active alarm of that subject is handed back to the watch as behind, so it clears once the
intake has caught up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloud.alarms.system import active_system_alarm, clear_system_alarm, raise_system_alarm
from cloud.clock import Clock
from cloud.db import Database
from cloud.enums import Severity
from cloud.locale import N_, RECORD, Text

TELEMETRY_INTAKE_BEHIND = "telemetry_intake_behind"
PREFIX = "intake:"


def subject(name: str) -> str:
    return f"{PREFIX}{name}"


# the alarm's message, written from its details in the reader's language (`message`)
BEHIND = N_(
    "telemetry intake behind: the oldest waiting sample has waited {wait} s, beyond the"
    " {bound} s allowed ({queued} waiting); alarm and state changes go first, routine"
    " measurements lag: the cloud needs more CPU or a faster database"
)


def message(details: Mapping[str, Any], text: Text = RECORD) -> str:
    """The alarm's message from its `details`, in `text`'s language."""
    return text._(BEHIND).format(
        wait=text.number(float(details["oldest_wait_s"])),
        bound=text.figure(float(details["bound_s"])),
        queued=text.number(int(details["queued"])),
    )


class IntakeAlarms:
    """Raises and clears `telemetry_intake_behind`; called on the consumer's DB thread."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def is_active(self, name: str) -> bool:
        with self._db.session() as session:
            return active_system_alarm(session, TELEMETRY_INTAKE_BEHIND, subject(name)) is not None

    def apply(self, name: str, behind: bool, details: dict[str, Any]) -> None:
        """Raise (behind) or clear the alarm of intake `name`; one transaction."""
        now = self._clock()
        with self._db.session() as session:
            if behind:
                raise_system_alarm(
                    session,
                    TELEMETRY_INTAKE_BEHIND,
                    subject(name),
                    message(details),
                    severity=Severity.MAJOR,
                    details=details,
                    now=now,
                )
            else:
                clear_system_alarm(
                    session,
                    TELEMETRY_INTAKE_BEHIND,
                    subject(name),
                    now,
                    note=f"caught up: the oldest waiting sample has waited "
                    f"{float(details['oldest_wait_s']):.0f} s",
                    details=details,
                )
