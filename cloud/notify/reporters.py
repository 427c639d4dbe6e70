"""Telling occupants who reported a problem: the service desk's updates (`request_updates`)
sent through the site's channels by the delivery worker, a small step of its tick.

Which channel: the site's list (PLANTROOM_REQUEST_REPORTER_CHANNELS, names from the
notifications file, tried in order) or, by default, the first `email`-style channel when the
reporter left an e-mail, else the first `sms`-style channel when they left a phone. An
`email` channel takes the e-mail address; `sms` and `chat` channels take the phone number.

Exactly once, as the staff outbox: an update is claimed (`sending`, with the time) and
committed before the send, and marked `sent` after it; one left `sending` by a process that
died mid-send is failed with the reason, not sent again. A refused send is tried again after
a jittered backoff and failed after PLANTROOM_NOTIFY_MAX_ATTEMPTS; an update whose reporter
has no contact is `no_contact`, one whose contact no configured channel reaches `no_channel`.
Each step sends at most `per_tick` messages and spends the channels' rate-limit tokens.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cloud.clock import Clock
from cloud.db import Database
from cloud.notify.channels import Channel, Style
from cloud.notify.sender import Sender, SendFailed, TokenBucket
from cloud.notify.templates import Templates
from cloud.requests import updates
from cloud.requests.config import DeskConfig
from cloud.requests.model import RequestUpdate
from cloud.requests.updates import ReporterMessage
from plantroom.backoff import backoff_delay
from plantroom.errors import ConfigError

if TYPE_CHECKING:
    from cloud.notify.delivery import DeliveryPolicy

log = logging.getLogger(__name__)

PER_TICK = 50  # reporters' messages sent per tick at most
NOT_PHONE = re.compile(r"[\s().-]")


def route(message: ReporterMessage, channels: Sequence[Channel]) -> tuple[Channel, str] | None:
    """The first of `channels` that reaches the reporter, and the address on it."""
    for channel in channels:
        if channel.style is Style.EMAIL and message.email:
            return channel, message.email
        if channel.style is not Style.EMAIL and message.phone:
            return channel, NOT_PHONE.sub("", message.phone)
    return None


def reporter_channels(channels: dict[str, Channel], names: Sequence[str]) -> list[Channel]:
    """The channels reporters are told through, in order: `names` (ConfigError naming one
    that is not configured), or every e-mail channel, then every SMS channel."""
    if names:
        missing = [n for n in names if n not in channels]
        if missing:
            raise ConfigError(
                f"PLANTROOM_REQUEST_REPORTER_CHANNELS: {', '.join(missing)} not in the "
                f"notifications file (it has {', '.join(sorted(channels)) or 'none'})"
            )
        return [channels[n] for n in names]
    ordered = sorted(channels.values(), key=lambda c: c.name)
    return [c for c in ordered if c.style is Style.EMAIL] + [
        c for c in ordered if c.style is Style.SMS
    ]


def message_key(update_id: int) -> str:
    """The message's key, the same however often it is tried."""
    return f"<request-update-{update_id}@plantroom>"


@dataclass(slots=True)
class ReporterStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    stopped: int = 0
    no_channel: int = 0
    no_contact: int = 0
    rate_limited: int = 0


class ReporterPost:
    """The delivery worker's step for reporters' messages (`step`)."""

    def __init__(
        self,
        db: Database,
        channels: Sequence[Channel],
        sender: Sender,
        *,
        buckets: dict[str, TokenBucket],
        templates: Templates,
        desk: DeskConfig,
        policy: DeliveryPolicy,
        clock: Clock,
        per_tick: int = PER_TICK,
    ) -> None:
        self._db = db
        self.channels = list(channels)
        self._sender = sender
        self._buckets = buckets
        self._templates = templates
        self._desk = desk
        self.policy = policy
        self.per_tick = per_tick
        self.stats = ReporterStats()
        self._clock = clock

    def step(self, now: datetime) -> int:
        """Settle the stopped and the unreachable, then send up to `per_tick` due messages;
        the number sent."""
        stale = now - timedelta(seconds=self.policy.stale_after_s)
        with self._db.session() as session:
            stopped = updates.settle_stopped(session, stale_before=stale)
            self.stats.no_contact += updates.settle_no_contact(session)
        if stopped:
            self.stats.stopped += stopped
            log.error("reporters: %d message(s) failed: %s", stopped, updates.STOPPED)
        with self._db.sessions() as session:
            due = updates.pending_reporter_messages(
                session, self._desk, limit=self.per_tick, now=now
            )
        sent = 0
        limited: set[str] = set()
        for message in due:
            found = route(message, self.channels)
            if found is None:
                with self._db.session() as session:
                    why = "no configured channel reaches the reporter's contact"
                    self.stats.no_channel += updates.set_status(
                        session, [message.update_id], updates.NO_CHANNEL, error=why
                    )
                continue
            channel, address = found
            if channel.name in limited:
                continue  # its bucket is empty: the message waits, the others go on
            bucket = self._buckets[channel.name]
            if not bucket.take(now.timestamp()):
                limited.add(channel.name)
                self.stats.rate_limited += 1
                self._later(message.update_id, now + timedelta(seconds=bucket.wait()))
                continue
            sent += self._one(message, channel, address, now)
        return sent

    def _later(self, update_id: int, at: datetime) -> None:
        with self._db.session() as session:
            row = session.get(RequestUpdate, update_id)
            if row is not None and row.status == updates.PENDING:
                row.next_attempt_at = at

    def _one(self, message: ReporterMessage, channel: Channel, address: str, now: datetime) -> int:
        with self._db.session() as session:
            if not updates.claim(session, message.update_id, channel=channel.name, now=now):
                return 0  # another process has it
        error: str | None = None
        try:
            rendered = self._templates.reporter(
                channel.style,
                language=message.lang,
                text=message.text,
                link=message.link,
                reference=message.reference,
                name=message.name,
            )
            self._sender.send(channel, address, rendered, message_key(message.update_id))
        except SendFailed as exc:
            error = str(exc)[:512]
        now = self._clock()
        with self._db.session() as session:
            row = session.get(RequestUpdate, message.update_id)
            if row is None or row.status != updates.SENDING:
                return 0  # settled meanwhile (e.g. as stopped by another process)
            row.attempts += 1
            if error is None:
                updates.mark_delivered(session, [row.id], at=now)
                self.stats.sent += 1
                return 1
            self._refused(row, error, now)
        return 0

    def _refused(self, row: RequestUpdate, error: str, now: datetime) -> None:
        p = self.policy
        row.last_error = error
        if row.attempts >= p.max_attempts:
            row.status = updates.FAILED
            self.stats.failed += 1
            log.error(
                "reporter update %d failed after %d attempts: %s", row.id, row.attempts, error
            )
            return
        row.status = updates.PENDING
        row.next_attempt_at = now + timedelta(
            seconds=backoff_delay(row.attempts - 1, p.retry_first_s, p.retry_max_s)
        )
        self.stats.retried += 1
