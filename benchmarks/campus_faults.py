"""The campus benchmark's faults followed end to end: from the poll that saw the fault to the
first e-mail about its work order, and where that time goes.

A real SMTP server (`stack.mailbox.Mailbox`, aiosmtpd on a thread of the benchmark) is the
cloud's `email` channel; in demo mode every demo user has a verified address on it, so the
fire panel's work order is told to the people on call. `TimedMailbox` notes when the first
message naming each work order number arrived. Each fault's instants, all on this machine's
wall clock (ms since the epoch):

    poll       the edge timestamp of the first telemetry sample carrying the fault
    broker     when the benchmark's own subscriber received that sample
    created    the work order's `created_at`: the cloud's clock in the transaction that
               raised it (the cloud exposes no receive instant of a message, so this is the
               first instant known inside the cloud)
    listed     when `GET /api/work-orders` first listed it (polled every API_POLL_S)
    dispatched the work order's `dispatched_at`: the SLA ticker told people
    queued     the first outbox row's `created_at`
    notified   the SMTP server took the DATA of the first message naming the work order
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx

from benchmarks.measure import percentile
from plantroom.health import EdgeHealth
from stack.mailbox import Mailbox

WO_NUMBER = re.compile(r"\bWO-\d{6,}\b")
MAX_TEXT_CHARS = 200_000  # of one message searched for work order numbers


def channels_yaml(host: str, port: int) -> str:
    """The notifications file: one plain-SMTP `email` channel to `host:port`."""
    url = f"mailto://{host}:{port}?from=plantroom@bench.example.com&to={{address}}"
    return f'channels:\n  email:\n    url: "{url}"\n    style: email\n'


def work_orders_named(message: EmailMessage) -> set[str]:
    """The work order numbers in a message's subject and text (an incident's message names
    each of its jobs)."""
    text = str(message["Subject"] or "")
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        content = body.get_content()
        if isinstance(content, str):
            text += "\n" + content[:MAX_TEXT_CHARS]
    return set(WO_NUMBER.findall(text))


class FirstArrivals:
    """When (ms) the first message naming each work order number arrived, and how many
    messages came; safe to note from the SMTP server's thread."""

    def __init__(self) -> None:
        self._first: dict[str, float] = {}
        self.count = 0
        self._lock = threading.Lock()

    def note(self, raw: bytes, at: float) -> None:
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        numbers = work_orders_named(message)
        with self._lock:
            self.count += 1
            for number in numbers:
                self._first.setdefault(number, at)

    def first_of(self, number: str) -> float | None:
        with self._lock:
            return self._first.get(number)


class TimedMailbox(Mailbox):
    """The SMTP server, noting first arrivals (wall clock, ms) in `arrivals`; messages are
    counted, not kept."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(None, host, port)
        self.arrivals = FirstArrivals()

    def keep(self, raw: bytes) -> None:
        self.arrivals.note(raw, time.time() * 1000)


def epoch_ms(value: str | None) -> float | None:
    """An API timestamp (ISO 8601; naive means UTC) as ms since the epoch; None stays None."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp() * 1000


def first_instant(rows: Iterable[Mapping[str, Any]], key: str) -> float | None:
    """The earliest `key` timestamp of API rows (ms since the epoch); None if none has one."""
    found = [epoch_ms(row.get(key)) for row in rows]
    present = [f for f in found if f is not None]
    return min(present) if present else None


@dataclass
class FaultTrace:
    """One injected fault's instants (wall clock, ms since the epoch; None: not seen)."""

    equipment: str
    injected: float
    poll: float | None = None
    broker: float | None = None
    number: str | None = None
    created: float | None = None
    listed: float | None = None
    dispatched: float | None = None
    queued: float | None = None
    notified: float | None = None


async def cloud_instants(
    api_url: str, token: str, traces: Sequence[FaultTrace], arrivals: FirstArrivals
) -> None:
    """Each fault's work order as the cloud recorded it (created, dispatched, first outbox
    row) and its first e-mail, filled into `traces`: two requests per fault, made once the
    measurement is over so that they do not load it."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as api:
        for trace in traces:
            if trace.number is None:
                continue
            wo = (await api.get(f"/api/work-orders/{trace.number}")).raise_for_status().json()
            trace.created = epoch_ms(wo["created_at"])
            trace.dispatched = epoch_ms(wo["dispatched_at"])
            rows = await api.get(f"/api/work-orders/{trace.number}/notifications")
            trace.queued = first_instant(rows.raise_for_status().json(), "created_at")
            trace.notified = arrivals.first_of(trace.number)


# the legs, in order along the path: (label, from, to)
LEGS: tuple[tuple[str, str, str], ...] = (
    ("poll → broker (the benchmark's subscriber has the sample)", "poll", "broker"),
    ("broker → work order created (cloud intake, rules, its transaction)", "broker", "created"),
    ("created → listed by the API (commit, and the benchmark's poll)", "created", "listed"),
    ("created → dispatched (the SLA ticker tells people)", "created", "dispatched"),
    ("dispatched → outbox row", "dispatched", "queued"),
    ("outbox row → SMTP server has the e-mail (delivery worker, SMTP)", "queued", "notified"),
)


def leg_values(traces: Sequence[FaultTrace], start: str, end: str) -> list[float]:
    """`end - start` in ms of every fault that has both instants."""
    out = []
    for t in traces:
        a, b = getattr(t, start), getattr(t, end)
        if a is not None and b is not None:
            out.append(float(b - a))
    return out


@dataclass(frozen=True, slots=True)
class NotifyFigures:
    from_poll: list[float]  # poll → first notification, ms
    untold: int  # faults with a work order and no notification
    no_work_order: int


def notify_figures(traces: Sequence[FaultTrace]) -> NotifyFigures:
    with_wo = [t for t in traces if t.number is not None]
    return NotifyFigures(
        from_poll=leg_values(with_wo, "poll", "notified"),
        untold=sum(1 for t in with_wo if t.notified is None),
        no_work_order=len(traces) - len(with_wo),
    )


def _ms(values: Sequence[float], q: float) -> str:
    return f"{percentile(values, q):,.0f} ms" if values else "n/a"


def legs_table(traces: Sequence[FaultTrace]) -> list[str]:
    """Markdown rows: p50 / p99 / max of each leg of the fault path."""
    rows = [
        "| leg | faults | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, start, end in LEGS:
        values = leg_values(traces, start, end)
        top = f"{max(values):,.0f} ms" if values else "n/a"
        rows.append(f"| {label} | {len(values)} | {_ms(values, 50)} | {_ms(values, 99)} | {top} |")
    return rows


def poll_latencies(
    health: Mapping[str, Sequence[tuple[float, EdgeHealth]]], t0: float, t1: float, marker: str
) -> tuple[list[float], list[float]]:
    """The agents' own poll latency figures (start of a poll to its decoded result, ms) of
    the devices whose id contains `marker`, one pair per device and report window inside
    `t0..t1`: the windows' p50s and their p99s."""
    p50s: list[float] = []
    p99s: list[float] = []
    for reports in health.values():
        for at, report in reports:
            if not t0 <= at <= t1:
                continue
            for device, figures in report.devices.items():
                if marker not in device:
                    continue
                if "poll_latency_p50_ms" in figures and "poll_latency_p99_ms" in figures:
                    p50s.append(float(figures["poll_latency_p50_ms"]))
                    p99s.append(float(figures["poll_latency_p99_ms"]))
    return p50s, p99s
