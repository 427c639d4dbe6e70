"""The delivery worker: works through the outbox on its own thread (`cloud-outbox`).

Every `PLANTROOM_NOTIFY_DELIVERY_INTERVAL_S` it

1. fails rows left `sending` by a process that died mid-send ("unknown: the service stopped
   while sending"): what happened to that send is unknown, and re-sending blindly could tell
   the person twice, so the row says so instead (docs/notifications.md, "Exactly once");
2. takes the due `queued` rows, one message per row, or per person and incident
   (the incident's rows waited `PLANTROOM_NOTIFY_INCIDENT_WINDOW_S` to be sent together);
3. per message: waits for its channel's token bucket (the row is put back a little later),
   marks its rows `sending` and commits, sends through Apprise, then marks them `sent`, or
   `queued` again after a jittered backoff. After `PLANTROOM_NOTIFY_FAILOVER_AFTER` failures
   in a row on one contact point the message falls to the person's next verified one and the
   job's audit gets a `notification_channel_failing` event; after the last contact point or
   `PLANTROOM_NOTIFY_MAX_ATTEMPTS` it is `failed` with the last error;
4. sends the service desk's updates to the occupants who reported a problem, a bounded step
   through the same channels and rate limits (`cloud.notify.reporters`).

Of several cloud processes on one database, the one holding `cloud-outbox`
(`cloud.cluster.turns.Holder`) sends, so a channel's rate limit is the service's, not each
process's; the others take over at their next tick when it stops or dies. The claim (queued
→ sending, one conditional UPDATE) still keeps each message to one send should two ever
overlap.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cloud.alarms.system import clear_system_alarm, raise_system_alarm
from cloud.clock import Clock
from cloud.cluster.turns import Holder
from cloud.db import Database
from cloud.enums import Severity
from cloud.locale import N_, RECORD, Text
from cloud.locale.composed import compose as compose_note
from cloud.notify import outbox
from cloud.notify.channels import Channel
from cloud.notify.compose import compose, message_key
from cloud.notify.links import LinkSigner
from cloud.notify.model import OutboxMessage, OutboxStatus
from cloud.notify.reporters import ReporterPost, reporter_channels
from cloud.notify.sender import Sender, SendFailed, TokenBucket
from cloud.notify.templates import Templates
from cloud.requests.config import DeskConfig
from cloud.workorders import audit
from cloud.workorders.model import WorkOrder
from plantroom.backoff import backoff_delay
from plantroom.notifysettings import NotificationSettings
from plantroom.ticker import Ticked, Ticker, TickerStats

CHANNEL_FAILING = "notification_channel_failing"
"""The system alarm a channel that keeps failing raises; a send through it clears it."""
FAILING = N_(
    "notification channel {channel} failed {attempts} times in a row sending to {address}: {error}"
)


def channel_failing_message(details: Mapping[str, Any], text: Text) -> str:
    """The `CHANNEL_FAILING` alarm's message from its details, in `text`'s language."""
    return text._(FAILING).format(
        channel=details["channel"],
        attempts=text.number(int(details["attempts"])),
        address=details["address"],
        error=details["error"],
    )


log = logging.getLogger(__name__)

BATCH = 200  # rows looked at per tick


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    failover_after: int = 3
    retry_first_s: float = 2.0
    retry_max_s: float = 300.0
    stale_after_s: float = 30.0

    @classmethod
    def from_settings(cls, s: NotificationSettings) -> DeliveryPolicy:
        return cls(
            max_attempts=s.notify_max_attempts,
            failover_after=s.notify_failover_after,
            retry_first_s=s.notify_retry_first_s,
            retry_max_s=max(s.notify_retry_max_s, s.notify_retry_first_s),
            stale_after_s=3 * s.notify_send_timeout_s,
        )


@dataclass(slots=True)
class DeliveryStats(TickerStats):
    sent: int = 0
    retried: int = 0
    failed: int = 0
    failovers: int = 0
    rate_limited: int = 0
    stopped: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


def _groups(rows: Sequence[OutboxMessage]) -> list[list[OutboxMessage]]:
    """One message per row of a job outside an incident, or per (person, incident, contact
    point) for an incident's rows, whatever their stages (a ticker catching up fires the
    dispatch and escalations at once). Nothing else shares a message: the leading row's
    link acknowledges every row its message carried (`cloud.notify.acknowledge`)."""
    groups: dict[tuple[object, ...], list[OutboxMessage]] = {}
    for row in rows:
        key: tuple[object, ...] = (
            (row.user_id, row.team_id, row.incident_id, row.contact_point_id)
            if row.incident_id is not None
            else (row.id,)
        )
        groups.setdefault(key, []).append(row)
    return list(groups.values())


class Deliverer(Ticked):
    def __init__(
        self,
        db: Database,
        channels: dict[str, Channel],
        sender: Sender,
        *,
        templates: Templates,
        links: LinkSigner,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        interval: float = 0.25,
        incident_window_s: float = 3.0,
        desk: DeskConfig | None = None,
        reporter_channel_names: Sequence[str] = (),
    ) -> None:
        self._db = db
        self.channels = channels
        self._sender = sender
        self._templates = templates
        self._links = links
        self._clock = clock
        self.policy = policy or DeliveryPolicy()
        self._window = timedelta(seconds=incident_window_s)
        self.me = f"outbox-{uuid.uuid4().hex[:12]}"
        self._buckets = {
            n: TokenBucket(c.rate_per_minute / 60.0, c.burst) for n, c in channels.items()
        }
        self.stats = DeliveryStats()
        self._holder = Holder(db, "cloud-outbox")
        self.reporters = (
            ReporterPost(
                db,
                reporter_channels(channels, reporter_channel_names),
                sender,
                buckets=self._buckets,
                templates=templates,
                desk=desk,
                policy=self.policy,
                clock=clock,
            )
            if desk is not None
            else None
        )
        self.ticker: Ticker[int] = Ticker(
            "cloud-outbox",
            self.tick,
            interval=interval,
            what="outbox",
            clock=clock,
            stats=self.stats,
        )

    def tick(self) -> int:
        """One pass over the outbox; the number of messages sent (none in a process that
        does not hold the sending)."""
        if not (self._holder.still_held() or self._holder.try_hold()):
            return 0
        now = self._clock()
        stale = now - timedelta(seconds=self.policy.stale_after_s)
        with self._db.session() as session:
            stopped = outbox.settle_stopped(session, now=now, stale_before=stale)
        if stopped:
            self.stats.stopped += stopped
            log.error("outbox: %d message(s) failed: %s", stopped, outbox.STOPPED)
        with self._db.sessions() as session:
            rows = outbox.due(session, now=now, limit=BATCH)
            session.expunge_all()
        # an incident's rows wait out the window, so its other jobs join the same message
        rows = [r for r in rows if r.incident_id is None or r.created_at <= now - self._window]
        sent = 0
        for group in _groups(rows):
            sent += self._one(group)
        if self.reporters is not None:  # occupants told what became of their reports
            sent += self.reporters.step(self._clock())
        return sent

    async def stop(self) -> None:
        await self.ticker.stop()
        self._holder.release()  # the ticker's thread is gone: this one uses the holder now

    def _one(self, group: list[OutboxMessage]) -> int:
        lead = group[0]
        ids = [r.id for r in group]
        channel = self.channels.get(lead.channel or "")
        now = self._clock()
        if channel is not None and not self._buckets[channel.name].take(now.timestamp()):
            self.stats.rate_limited += 1
            wait = timedelta(seconds=self._buckets[channel.name].wait())
            with self._db.session() as session:
                for row_id in ids:
                    row = session.get(OutboxMessage, row_id)
                    if row is not None and row.status is OutboxStatus.QUEUED:
                        row.next_attempt_at = now + wait
            return 0
        try:
            with self._db.session() as session:
                outbox.claim(session, ids, by=self.me, now=now)
        except outbox.Taken:
            return 0
        error: str | None = None
        key = message_key(lead)
        try:
            if channel is None:
                raise SendFailed(f"channel {lead.channel!r} is not in the notifications file")
            with self._db.sessions() as session:
                rows = [r for r in (session.get(OutboxMessage, i) for i in ids) if r is not None]
                message = compose(
                    session, rows, channel, templates=self._templates, links=self._links, now=now
                )
            self._sender.send(channel, lead.address or "", message, key)
        except (SendFailed, LookupError) as exc:
            error = str(exc)[:512]
        with self._db.session() as session:
            self._record(session, ids, error=error, key=key, now=self._clock())
        if error is None:
            self.stats.sent += 1
            name = channel.name if channel is not None else "?"
            self.stats.by_channel[name] = self.stats.by_channel.get(name, 0) + 1
            return 1
        return 0

    def _record(
        self, session: Session, ids: list[int], *, error: str | None, key: str, now: datetime
    ) -> None:
        lead_id = ids[0]
        for row_id in ids:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status is not OutboxStatus.SENDING or row.claimed_by != self.me:
                continue  # settled meanwhile (e.g. as stopped by another process)
            row.attempts += 1
            if error is None:
                row.status = OutboxStatus.SENT
                row.sent_at = now
                row.message_id = key
                row.last_error = None
                row.group_id = lead_id if row_id != lead_id else None
                clear_system_alarm(session, CHANNEL_FAILING, f"channel:{row.channel}", now)
                continue
            self._failed(session, row, error, now)

    def _failed(self, session: Session, row: OutboxMessage, error: str, now: datetime) -> None:
        p = self.policy
        row.last_error = error
        row.channel_attempts += 1
        if row.attempts >= p.max_attempts:
            row.status = OutboxStatus.FAILED
            self.stats.failed += 1
            log.error("outbox row %d failed after %d attempts: %s", row.id, row.attempts, error)
            return
        if row.channel_attempts >= p.failover_after:
            self._fail_over(session, row, error, now)
            return
        row.status = OutboxStatus.QUEUED
        row.next_attempt_at = now + timedelta(
            seconds=backoff_delay(row.channel_attempts - 1, p.retry_first_s, p.retry_max_s)
        )
        self.stats.retried += 1

    def _fail_over(self, session: Session, row: OutboxMessage, error: str, now: datetime) -> None:
        """The contact point kept failing: record it on the job, and try the next one."""
        failing = f"{row.channel} {row.address}"
        row.tried = [*(row.tried or []), row.contact_point_id]
        nxt = outbox.next_contact(session, row)
        wo = session.get(WorkOrder, row.work_order_id)
        if wo is not None:
            where = (
                compose_note(N_("; trying %(next)s"), next=f"{nxt.channel} {nxt.address}")
                if nxt is not None
                else ""
            )
            audit.system_event(
                session,
                wo,
                "notification_channel_failing",
                compose_note(
                    N_("channel %(failing)s failed %(attempts)s times in a row%(where)s"),
                    failing=failing,
                    attempts=row.channel_attempts,
                    where=where,
                ),
                at=now,
                details={
                    "channel": row.channel,
                    "user_id": row.user_id,
                    "team_id": row.team_id,
                    "error": error,
                },
            )
        facts = {
            "channel": row.channel,
            "attempts": row.channel_attempts,
            "address": row.address,
            "user_id": row.user_id,
            "team_id": row.team_id,
            "error": error[:512],
        }
        raise_system_alarm(
            session,
            CHANNEL_FAILING,
            f"channel:{row.channel}",
            channel_failing_message(facts, RECORD),
            severity=Severity.MAJOR,
            details=facts,
            now=now,
        )
        self.stats.failovers += 1
        log.error("outbox row %d: %s keeps failing (%s)", row.id, failing, error)
        if nxt is None:
            row.status = OutboxStatus.FAILED
            row.last_error = f"every verified contact point failed; last: {error}"[:512]
            self.stats.failed += 1
            return
        outbox.point_at(row, nxt)
        row.status = OutboxStatus.QUEUED
        row.next_attempt_at = now
