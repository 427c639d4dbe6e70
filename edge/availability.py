"""Whether a piece of equipment is reachable, and the log lines that say so.

One failure is not an outage: after `offline_after` consecutive failed polls the equipment
is offline, with the reason of the last failure. The outage is logged at ERROR once, at
DEBUG while it lasts, and at INFO when the equipment answers again.

A unit that has timed out ever since the agent started is most likely addressed wrongly: its
reason names the unit and where it was asked, and suggests the check (`never_answered`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class Status(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: Status
    reason: str | None
    ts: int

    def payload(self) -> dict[str, object]:
        return {"status": self.status.value, "reason": self.reason, "ts": self.ts}


PROBE_HINT = "check the unit id (`plantroom check --probe`)"


def never_answered(unit: int, address: str) -> str:
    """The offline reason of a unit that timed out on every poll since the agent started:
    `no answer from unit 7 at 10.0.0.5:502 — check the unit id (…)`."""
    return f"no answer from unit {unit} at {address} — {PROBE_HINT}"


class Availability:
    def __init__(self, equipment: str, offline_after: int) -> None:
        if offline_after < 1:
            raise ValueError("offline_after must be at least 1")
        self.equipment = equipment
        self.offline_after = offline_after
        self.status: Status | None = None
        self.reason: str | None = None
        self.failures = 0
        self.answered = False  # the equipment answered at least once since the agent started
        self._outage_started: float | None = None

    @property
    def offline(self) -> bool:
        return self.status is Status.OFFLINE

    def _change(self, status: Status, reason: str | None, ts_ms: int) -> StatusChange:
        self.status = status
        self.reason = reason
        return StatusChange(status, reason, ts_ms)

    def succeeded(self, ts_ms: int) -> StatusChange | None:
        self.failures = 0
        self.answered = True
        if self.status is Status.ONLINE:
            return None
        if self.status is not None and self._outage_started is not None:
            log.info(
                "%s back online after %.0f s %s (%s)",
                self.equipment,
                time.monotonic() - self._outage_started,
                self.status.value,
                self.reason,
            )
        self._outage_started = None
        return self._change(Status.ONLINE, None, ts_ms)

    def failed(self, reason: str, ts_ms: int) -> StatusChange | None:
        self.failures += 1
        if self.status is Status.OFFLINE:
            log.debug("%s still offline: %s (%d failures)", self.equipment, reason, self.failures)
            if reason != self.reason:
                return self._change(Status.OFFLINE, reason, ts_ms)
            return None
        if self.failures < self.offline_after:
            log.debug(
                "%s: %s (%d of %d before offline)",
                self.equipment,
                reason,
                self.failures,
                self.offline_after,
            )
            return None
        log.error(
            "%s offline: %s (%d consecutive failed polls)", self.equipment, reason, self.failures
        )
        if self._outage_started is None:
            self._outage_started = time.monotonic()
        return self._change(Status.OFFLINE, reason, ts_ms)

    def went_stale(self, reason: str, ts_ms: int) -> StatusChange | None:
        """For equipment that reports on its own: nothing heard for too long."""
        if self.status in (Status.STALE, Status.OFFLINE):
            return None
        log.error("%s stale: %s", self.equipment, reason)
        self._outage_started = time.monotonic()
        return self._change(Status.STALE, reason, ts_ms)
