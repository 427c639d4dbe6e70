"""Accounting for e-mail: the outbox rows the cloud shows against the messages the SMTP server
received, matched by each message's `X-Plantroom-Message` key (`<outbox-<row id>.<…>@…>`).

After a `kill -9` of the cloud during a burst every row must end `sent` and its message have
arrived exactly once, or `failed` with "the service stopped while sending" (what happened to
that one send is unknown, so the message may have arrived once, never twice). Anything else
(a message received twice, a `sent` row whose message never came, a row still queued, a row
failed for another reason, a message no row accounts for) is a finding.

`burst` asks the cloud for jobs through its API, `outbox_rows` reads their messages back.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from cloud.notify.outbox import STOPPED
from plantroom.errors import ServiceError

HEADER = "X-Plantroom-Message"
KEY = re.compile(r"<outbox-(\d{1,12})\.")
SENT = ("sent", "acknowledged")
MAX_BURST = 1000


@dataclass(frozen=True)
class MailAudit:
    rows: int
    sent: int
    stopped: int
    stopped_arrived: int  # stopped rows whose message reached the server anyway
    received: int  # messages with an outbox key
    duplicates: list[int] = field(default_factory=list)  # row ids received more than once
    lost: list[int] = field(default_factory=list)  # `sent` rows whose message never came
    unsettled: list[int] = field(default_factory=list)  # rows still queued or sending
    failed_other: list[str] = field(default_factory=list)  # "row id: error"
    strays: list[int] = field(default_factory=list)  # keys no row accounts for

    @property
    def ok(self) -> bool:
        return not (
            self.duplicates or self.lost or self.unsettled or self.failed_other or self.strays
        )

    def describe(self) -> str:
        text = (
            f"{self.rows} messages: {self.sent} sent, {self.stopped} failed as stopped while "
            f"sending ({self.stopped_arrived} of them arrived), {self.received} received"
        )
        for name, found in (
            ("sent twice", self.duplicates),
            ("lost", self.lost),
            ("never settled", self.unsettled),
            ("failed otherwise", self.failed_other),
            ("received for no row", self.strays),
        ):
            if found:
                text += f"; {name}: {', '.join(map(str, found[:10]))}"
        return text


def received_keys(messages: Iterable[EmailMessage]) -> Counter[int]:
    """How often each outbox row's message arrived."""
    counts: Counter[int] = Counter()
    for message in messages:
        found = KEY.match(str(message.get(HEADER, "")))
        if found:
            counts[int(found[1])] += 1
    return counts


def read_folder(folder: Path) -> list[EmailMessage]:
    """The messages a `stack.mailbox.Mailbox` kept as .eml files in `folder`."""
    out = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        out.append(message)
    return out


def audit_mail(rows: Iterable[Mapping[str, Any]], received: Counter[int]) -> MailAudit:
    """Each outbox row (as the API shows it) against how often its message arrived."""
    rows = list(rows)
    ids = {int(r["id"]) for r in rows}
    sent = stopped = stopped_arrived = 0
    lost: list[int] = []
    unsettled: list[int] = []
    failed_other: list[str] = []
    for row in rows:
        row_id, status = int(row["id"]), str(row["status"])
        if status in SENT:
            sent += 1
            if received[row_id] == 0:
                lost.append(row_id)
        elif status == "failed" and row.get("last_error") == STOPPED:
            stopped += 1
            stopped_arrived += received[row_id] > 0
        elif status == "failed":
            failed_other.append(f"{row_id}: {row.get('last_error')}")
        else:
            unsettled.append(row_id)
    return MailAudit(
        rows=len(rows),
        sent=sent,
        stopped=stopped,
        stopped_arrived=stopped_arrived,
        received=sum(received.values()),
        duplicates=sorted(i for i, n in received.items() if n > 1),
        lost=sorted(lost),
        unsettled=sorted(unsettled),
        failed_other=failed_other,
        strays=sorted(set(received) - ids),
    )


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def burst(api_url: str, token: str, count: int, *, building: str, label: str) -> list[str]:
    """Ask for `count` urgent jobs in `building` as fast as the API takes them; their numbers."""
    if not 1 <= count <= MAX_BURST:
        raise ValueError(f"burst: count {count} is not 1 to {MAX_BURST}")
    numbers = []
    with httpx.Client(base_url=api_url, headers=_headers(token), timeout=30) as client:
        for n in range(count):
            body = {"title": f"{label} {n + 1}", "building": building, "priority": "urgent"}
            resp = client.post("/api/work-orders", json=body)
            if resp.status_code != 201:
                raise ServiceError(f"burst: job {n + 1} refused: {resp.status_code} {resp.text}")
            numbers.append(str(resp.json()["number"]))
    return numbers


def outbox_rows(api_url: str, token: str, numbers: Iterable[str]) -> list[dict[str, Any]]:
    """The outbox rows of the jobs `numbers`, as the API shows them."""
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=api_url, headers=_headers(token), timeout=30) as client:
        for number in numbers:
            try:
                resp = client.get(f"/api/work-orders/{number}/notifications")
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise ServiceError(f"outbox of {number}: {exc}") from exc
            rows.extend(resp.json())
    return rows


def settled(rows: Iterable[Mapping[str, Any]]) -> bool:
    return all(str(r["status"]) not in ("queued", "sending") for r in rows)
