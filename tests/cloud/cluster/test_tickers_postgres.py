"""Two cloud processes on one real PostgreSQL, every ticker of both driven at the same moment:
each piece of work is done once. Each "process" is an app of its own (its own engine and
connections) on the same database schema; the ticks run in two threads released together.

- the service desk: each step of a job is one update for the reporter, not one per process;
- the PM scheduler: one PM job per plan, target and due date, and no tick failing on the
  other's schedule rows;
- the SLA ticker: one dispatch notification per person and stage, one verified closure;
- the notifier: each audit event reaches a webhook once, and the other process takes over
  (from the saved cursor) when the one sending stops;
- the outbox: each message mailed once to a real SMTP server, by the one process sending;
- the maintenance loop: one window per PM job in progress, each ended window settled once.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from cloud.enums import WorkOrderKind, WorkOrderStatus
from cloud.maintenance.model import MaintenanceEvent, MaintenanceWindow
from cloud.maintenance.runner import MaintenanceRunner
from cloud.maintenance.window import Board
from cloud.notify.config import NotifyConfig
from cloud.notify.model import ContactPoint, OutboxMessage, OutboxStatus
from cloud.notify.notifier import Notifier
from cloud.notify.webhooks import DELIVERY_HEADER
from cloud.pm.scheduler import PmScheduler
from cloud.requests.model import RequestUpdate
from cloud.sla.escalator import Escalator
from cloud.users.model import User
from cloud.users.service import get_user
from cloud.workorders.model import Notification, WorkOrder, WorkOrderEvent
from stack.pgserver import Postgres
from tests.cloud.harness import (
    Api,
    Clock,
    hour_of_maintenance,
    postgres_schema,
    serve,
    settings_for,
)
from tests.cloud.notify.mail import smtp_server
from tests.cloud.notify.receiver import Receiver
from tests.cloud.requests.desk import act, desk, desk_app, job, report
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

T = TypeVar("T")
K = TypeVar("K")
ROUNDS = 4  # races per test: a duplicate shows in the first one or two on the code before


@pytest.fixture
def url(postgres: Postgres) -> Iterator[str]:
    with postgres_schema(postgres) as found:
        yield found


@asynccontextmanager
async def two_processes(url: str, tmp: Path, clock: Clock) -> AsyncIterator[tuple[Api, Api]]:
    """Two apps on the database at `url`, on one clock."""
    async with (
        serve(settings_for(tmp / "a", database_url=url), clock) as a,
        serve(settings_for(tmp / "b", database_url=url), clock) as b,
    ):
        yield a, b


def twice(counts: Counter[K]) -> dict[K, int]:
    """What was counted more than once."""
    return {k: v for k, v in counts.items() if v > 1}


def at_once(*work: Callable[[], T]) -> list[T]:
    """Run each of `work` in a thread of its own, all released at the same moment; their
    results in order, or the first error raised."""
    start = threading.Barrier(len(work))
    results: list[T | None] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work[i]()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(i,), name=f"process-{i}") for i in range(len(work))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


async def test_two_desks_tell_the_reporter_each_step_once(url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with (
        desk_app(tmp_path / "a", url, clock) as a,
        desk_app(tmp_path / "b", url, clock) as b,
    ):
        for n in range(ROUNDS):
            created = await report(a, "l1", phone=f"+86 138 0013 80{n:02d}")
            assert created.status_code == 201, created.text
            reference = created.json()["reference"]
            rows = (await a.get("/api/requests", "desk1")).json()["items"]
            number = next(r["work_order"] for r in rows if r["reference"] == reference)
            if (await job(a, number))["status"] == "open":
                await act(a, number, "acknowledge")
                await act(a, number, "start")
            await act(b, number, "resolve", note="replaced the driver")  # either process's API
            at_once(desk(a).tick, desk(b).tick)
        with a.db.sessions() as session:
            told = Counter(
                session.execute(select(RequestUpdate.request_id, RequestUpdate.kind)).all()
            )
    assert len({request for request, _ in told}) == ROUNDS
    assert twice(told) == {}


async def test_two_pm_schedulers_raise_each_job_once(url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with two_processes(url, tmp_path, clock) as (a, b):
        first: PmScheduler = a.app.state.pm_scheduler
        second: PmScheduler = b.app.state.pm_scheduler
        assert first.plans, "the shipped PM plans cover the test site"
        runs = at_once(first.evaluate, second.evaluate)  # both lay out the schedules
        assert [r.schedules for r in runs] == [runs[0].schedules] * 2
        for _ in range(ROUNDS):
            clock.advance(days=100)  # every calendar plan falls due again
            at_once(first.evaluate, second.evaluate)
            with a.db.session() as session:  # the jobs done, so the next ones fall due
                for wo in session.scalars(select(WorkOrder).where(WorkOrder.pm_key.is_not(None))):
                    wo.status = WorkOrderStatus.CLOSED
        with a.db.sessions() as session:
            keys = Counter(
                session.scalars(select(WorkOrder.pm_key).where(WorkOrder.kind == WorkOrderKind.PM))
            )
    assert keys, "no PM job fell due"
    assert twice(keys) == {}


async def test_two_sla_tickers_dispatch_and_close_once(url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with (  # the desk's site: a team per building and trade, tech1 and tech2 in each
        desk_app(tmp_path / "a", url, clock) as a,
        desk_app(tmp_path / "b", url, clock) as b,
    ):
        tickers = [Escalator(api.db, api.state.sla, clock=clock) for api in (a, b)]
        for _ in range(ROUNDS):
            a.fault("p1", "pump.dry_run")  # a new job, then the same one reopened
            reports = at_once(tickers[0].tick, tickers[1].tick)
            assert sum(r.dispatched for r in reports) == 1
            assert sum(r.failed for r in reports) == 0  # neither tripped over the other
            with a.db.sessions() as session:
                job = session.scalars(
                    select(WorkOrder.id).where(WorkOrder.status == WorkOrderStatus.OPEN)
                ).one()
            for step in ("acknowledge", "start"):
                r = await b.post(f"/api/work-orders/{job}/{step}", json={"channel": "cli"})
                assert r.status_code == 200, r.text
            a.fault("p1", "pump.dry_run", clear=True)
            r = await b.post(f"/api/work-orders/{job}/resolve", json={"note": "primed it"})
            assert r.status_code == 200, r.text
            clock.advance(a.state.sla.verification + 60)
            reports = at_once(tickers[0].tick, tickers[1].tick)
            assert sum(r.closed for r in reports) == 1
            assert sum(r.failed for r in reports) == 0
        with a.db.sessions() as session:
            told = Counter(
                session.execute(
                    select(User.username, Notification.work_order_id, Notification.stage).join(
                        User, Notification.user_id == User.id
                    )
                ).all()
            )
            closed, dispatched = (
                session.scalar(select(func.count()).where(WorkOrderEvent.action == action))
                for action in ("close", "dispatched")
            )
            statuses = set(session.scalars(select(WorkOrder.status)))
    assert dispatched == ROUNDS  # each episode of the job told once
    assert len(told) >= ROUNDS
    assert twice(told) == {}
    assert statuses == {WorkOrderStatus.CLOSED}
    assert closed == ROUNDS


async def test_of_two_notifiers_one_sends_each_event_and_the_other_takes_over(
    url: str, tmp_path: Path
) -> None:
    hooks = Receiver()
    await hooks.start()
    clock = Clock()
    try:
        async with AsyncExitStack() as stack:
            apps = [
                await stack.enter_async_context(
                    serve(settings_for(tmp_path / name, database_url=url), clock)
                )
                for name in ("a", "b")
            ]
            settings = settings_for(
                tmp_path / "hooks",
                database_url=url,
                webhook_urls=[f"{hooks.url}/hooks"],
                webhook_secret=SecretStr("s3cret"),
            )
            config = NotifyConfig.from_settings(settings, site="s1")
            config = replace(config, poll_interval_s=0.05, influx_enabled=False)
            notifiers = [
                Notifier(api.db, config, sla=api.state.sla, clock=clock, metrics=False)
                for api in apps
            ]
            running = [await stack.enter_async_context(n) for n in notifiers]
            for _ in range(ROUNDS):
                apps[0].fault("p1", "pump.dry_run")
                apps[0].fault("p1", "pump.dry_run", clear=True)
            await _all_sent(apps[0], running, hooks)
            _each_once(hooks)
            sending = [n for n in running if n.pumps]
            assert len(sending) == 1, "one process sends the events"
            await sending[0].stop()  # it stops: the other takes over from the saved cursor
            apps[1].fault("p1", "pump.dry_run")
            await _all_sent(apps[0], [n for n in running if n is not sending[0]], hooks)
    finally:
        await hooks.stop()
    _each_once(hooks)


def _each_once(hooks: Receiver) -> None:
    sent = Counter(r.headers[DELIVERY_HEADER.lower()] for r in hooks.requests)
    assert twice(sent) == {}, "events delivered twice"


async def _all_sent(api: Api, notifiers: list[Notifier], hooks: Receiver) -> None:
    """Every event in the audit trail received, and every pump running past the last one."""
    with api.db.sessions() as session:
        top = session.scalar(select(func.max(WorkOrderEvent.id)))
    assert top is not None

    def done() -> bool:
        got = {int(r.headers[DELIVERY_HEADER.lower()]) for r in hooks.requests}
        pumps = [p for n in notifiers for p in n.pumps]
        return (
            got >= set(range(1, top + 1))
            and bool(pumps)
            and all(p.stats.position >= top for p in pumps)
        )

    await wait_for_async(done, f"events up to {top} sent", within=30.0)


async def test_two_outbox_workers_mail_each_message_once(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    with smtp_server(tmp_path, monkeypatch) as smtp:
        async with AsyncExitStack() as stack:
            a, b = [
                await stack.enter_async_context(
                    desk_app(
                        tmp_path / name,
                        url,
                        clock,
                        notifications_file=smtp.channels,
                        notify_link_secret="k" * 32,
                    )
                )
                for name in ("a", "b")
            ]
            with a.db.session() as session:
                for name in ("tech1", "tech2", "super1"):
                    user = get_user(session, name)
                    assert user is not None
                    session.add(
                        ContactPoint(
                            user_id=user.id,
                            channel="email",
                            address=f"{name}@example.com",
                            verified=True,
                            created_at=clock(),
                        )
                    )
            escalator = Escalator(a.db, a.state.sla, clock=clock)
            for rule in (
                "pump.dry_run",
                "pump.low_pressure",
                "pump.over_current",
                "pump.seal_leak",
            ):
                a.fault("p1", rule)
            escalator.tick()
            workers = [api.app.state.outbound.deliver(api.db, clock) for api in (a, b)]
            for worker in workers:
                stack.push_async_callback(worker.stop)  # ticked here, but let go of the sending
            queued = _queued(a)
            assert queued >= 4
            for _ in range(20):  # the channel's rate limit lets a few through per minute
                at_once(workers[0].tick, workers[1].tick)
                if not _queued(a):
                    break
                clock.advance(60)
            with a.db.sessions() as session:
                rows = Counter(session.scalars(select(OutboxMessage.status)))
                sent = set(
                    session.scalars(
                        select(OutboxMessage.message_id).where(
                            OutboxMessage.status == OutboxStatus.SENT
                        )
                    )
                )
        keys = Counter(str(m["X-Plantroom-Message"]) for m in smtp.box.received())
    assert rows == {OutboxStatus.SENT: queued}
    # one process sends, so the channel's rate limit holds for the service as a whole
    assert sorted(w.stats.sent for w in workers)[0] == 0
    assert set(keys) == sent
    assert twice(keys) == {}


def _queued(api: Api) -> int:
    with api.db.sessions() as session:
        found = session.scalar(
            select(func.count()).where(OutboxMessage.status == OutboxStatus.QUEUED)
        )
    return int(found or 0)


async def test_two_maintenance_loops_open_one_window_per_pm_job(url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with two_processes(url, tmp_path, clock) as (a, b):
        runners = [
            MaintenanceRunner(
                api.db, Board(), sla=api.state.sla, clock=clock, interval=60, pm_plans=["pm.x"]
            )
            for api in (a, b)
        ]
        for n in range(ROUNDS):
            with a.db.session() as session:  # a PM job whose plan silences its equipment
                wo = a.pm_job(session, f"p{n % 2 + 1}", f"Monthly check {n}")
                wo.pm_plan_id, wo.status = "pm.x", WorkOrderStatus.IN_PROGRESS
            at_once(runners[0].refresh, runners[1].refresh)
        with a.db.sessions() as session:
            windows = Counter(
                session.scalars(
                    select(MaintenanceWindow.work_order_id).where(
                        MaintenanceWindow.work_order_id.is_not(None)
                    )
                )
            )
    assert len(windows) == ROUNDS
    assert twice(windows) == {}


async def test_two_maintenance_loops_settle_each_window_once(url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with two_processes(url, tmp_path, clock) as (a, b):
        runners = [
            MaintenanceRunner(api.db, Board(), sla=api.state.sla, clock=clock, interval=60)
            for api in (a, b)
        ]
        for _ in range(ROUNDS):
            with a.db.session() as session:
                hour_of_maintenance(session, "p1", clock())
            a.fault("p1", "pump.dry_run")  # held by the window, still active at its end
            for runner in runners:
                runner.refresh()
            clock.advance(hours=2)
            done = at_once(*(functools.partial(r.settle_now, None) for r in runners))
            assert sum(d.raised for d in done) <= 1
            a.fault("p1", "pump.dry_run", clear=True)
        with a.db.sessions() as session:
            settled = Counter(
                session.scalars(
                    select(MaintenanceEvent.window_id).where(MaintenanceEvent.action == "settled")
                )
            )
            jobs = session.scalar(select(func.count()).select_from(WorkOrder))
    assert len(settled) == ROUNDS
    assert twice(settled) == {}
    assert jobs is not None and jobs <= ROUNDS  # one job per alarm carried past its window
