"""The outbox on a real database with a recording sender: one row per (person, job, stage),
exactly once across a crash mid-send (failed with the reason, never re-sent), retries, rate
limits, failover to the next contact point with an audit event, and the links' refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.enums import Role
from cloud.notify import outbox
from cloud.notify.channels import Channel, Style
from cloud.notify.delivery import DeliveryPolicy
from cloud.notify.model import OutboxMessage, OutboxStatus
from cloud.notify.outbox import STOPPED
from cloud.notify.sender import TokenBucket
from cloud.sla.escalator import Escalator
from tests.cloud.harness import Api, serve, settings_for
from tests.cloud.notify.harness import Recorder, contact, deliverer, dispatch, sent_link


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    users = {"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR}
    async with serve(settings_for(tmp_path), users=users) as a:
        yield a


def rows(api: Api) -> list[OutboxMessage]:
    with api.db.sessions() as session:
        found = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return found


async def test_one_row_per_person_job_and_stage_and_the_database_refuses_a_second(
    api: Api,
) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    dispatch(api)
    [row] = [r for r in rows(api) if r.status is OutboxStatus.QUEUED]
    assert row.stage == "dispatch" and row.address == "t1@example.com"
    with pytest.raises(IntegrityError), api.db.session() as session:
        session.add(
            OutboxMessage(
                user_id=row.user_id,
                work_order_id=row.work_order_id,
                stage=row.stage,
                kind="dispatched",
                tried=[],
                status=OutboxStatus.QUEUED,
                attempts=0,
                channel_attempts=0,
                created_at=api.clock(),
                next_attempt_at=api.clock(),
                link_jti="x" * 24,
            )
        )


async def test_a_send_cut_short_by_a_crash_is_failed_with_the_reason_not_resent(
    api: Api,
) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    dispatch(api)
    sender = Recorder()
    first = deliverer(api, sender, DeliveryPolicy(stale_after_s=30.0))
    row = next(r for r in rows(api) if r.status is OutboxStatus.QUEUED)
    # the process that claimed the row died between `sending` and `sent`
    with api.db.session() as session:
        outbox.claim(session, [row.id], by=first.me, now=api.clock())
    restarted = deliverer(api, sender, DeliveryPolicy(stale_after_s=30.0))
    restarted.tick()
    assert sender.sent == [] and rows(api)[row.id - 1].status is OutboxStatus.SENDING
    api.clock.advance(31)
    restarted.tick()
    settled = next(r for r in rows(api) if r.id == row.id)
    assert settled.status is OutboxStatus.FAILED and settled.last_error == STOPPED
    assert sender.sent == [] and restarted.stats.stopped == 1


async def test_retries_then_failover_with_an_audit_event_and_a_system_alarm(
    api: Api,
) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    contact(api, "tech1", "sms", "+8613800000001")
    dispatch(api)
    sender = Recorder()
    sender.failing.add("t1@example.com")
    d = deliverer(api, sender, DeliveryPolicy(failover_after=2, retry_first_s=1.0, retry_max_s=1.0))
    d.tick()
    row = next(r for r in rows(api) if r.user_id and r.status is OutboxStatus.QUEUED)
    assert row.attempts == 1 and row.channel == "email" and "refused" in (row.last_error or "")
    api.clock.advance(2)
    d.tick()  # second failure: falls to sms, sent at the next tick
    d.tick()
    [(channel, address, message, _)] = sender.sent
    assert (channel, address) == ("sms", "+8613800000001")
    assert "WO-000001" in message.body and not message.html
    sent = next(r for r in rows(api) if r.channel == "sms")
    assert sent.status is OutboxStatus.SENT and sent.attempts == 3
    trail = (await api.get("/api/work-orders/1/audit")).json()
    failing = [e for e in trail if e["action"] == "notification_channel_failing"]
    assert failing and "email t1@example.com failed 2 times" in failing[0]["note"]
    [alarm] = (await api.get("/api/system-alarms?state=active")).json()["items"]
    assert (alarm["code"], alarm["subject"]) == ("notification_channel_failing", "channel:email")
    # the mail server takes messages again: the next e-mail sent clears the alarm
    sender.failing.clear()
    contact(api, "super1", "email", "s1@example.com")
    api.clock.advance(60 * 60)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    d.tick()
    assert any(channel == "email" for channel, *_ in sender.sent)
    assert (await api.get("/api/system-alarms?state=active")).json()["items"] == []


async def test_a_channel_over_its_rate_waits_for_its_bucket(api: Api) -> None:
    slow = {"email": Channel("email", "mailto://x?to={address}", Style.EMAIL, 60.0, 1)}
    contact(api, "tech1", "email", "t1@example.com")
    contact(api, "super1", "email", "s1@example.com")
    dispatch(api)  # tech1 only (the technicians)
    api.clock.advance(60 * 60)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()  # overdue: more rows
    sender = Recorder()
    d = deliverer(api, sender)
    d.channels = slow  # one message a second, a burst of one
    d._buckets = {"email": TokenBucket(1.0, 1)}
    queued = [r for r in rows(api) if r.status is OutboxStatus.QUEUED]
    assert len(queued) >= 2
    d.tick()
    assert len(sender.sent) == 1 and d.stats.rate_limited >= 1
    api.clock.advance(1.5)
    d.tick()
    assert len(sender.sent) == 2


async def test_links_refuse_tampered_expired_replayed_and_someone_elses(api: Api) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    contact(api, "super1", "email", "s1@example.com")
    path = sent_link(api)
    json = {"Accept": "application/json"}

    bad = await api.client.post(path[:-3] + "abc", headers=json)
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "link_invalid"

    # someone else took the job meanwhile
    assert (await api.post("/api/work-orders/1/acknowledge", who="super1")).status_code == 200
    theirs = await api.client.post(path, headers=json)
    assert theirs.status_code == 403 and theirs.json()["error"]["code"] == "link_not_yours"
    assert "super1" in theirs.json()["error"]["message"]

    api.clock.advance(3601)
    late = await api.client.get(path)
    assert late.status_code == 410 and "expired" in late.text


async def test_stages_of_one_job_fired_in_one_tick_are_separate_messages_each_with_its_link(
    api: Api,
) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    contact(api, "super1", "email", "s1@example.com")
    dispatch(api)
    # long overdue: the ticker fires every escalation stage at once
    api.clock.advance(6 * 60 * 60)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    queued = [r for r in rows(api) if r.status is OutboxStatus.QUEUED]
    by_person: dict[int | None, list[OutboxMessage]] = {}
    for r in queued:
        by_person.setdefault(r.user_id, []).append(r)
    assert any(len(mine) >= 2 for mine in by_person.values()), [r.stage for r in queued]
    sender = Recorder()
    d = deliverer(api, sender)
    d.tick()
    assert len(sender.sent) == len(queued)  # one message per row: none rides on another
    signer = d._links
    ordered = sorted(queued, key=lambda r: r.id)
    for (_, _, message, key), row in zip(sender.sent, ordered, strict=True):
        token = message.body.split('href="')[1].split('"')[0].rsplit("/", 1)[1]
        claim = signer.check(token, now=api.clock())
        assert claim.outbox_id == row.id and key.startswith(f"<outbox-{row.id}.")
    assert all(r.status is OutboxStatus.SENT and r.group_id is None for r in rows(api))


async def test_the_dispatch_kpis_come_from_the_outbox(api: Api) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    dispatch(api)
    api.clock.advance(60)
    deliverer(api, Recorder()).tick()  # delivered a minute after the job was raised
    api.clock.advance(200)  # acknowledged 260 s after: later than the 180 s dispatch time
    assert (await api.post("/api/work-orders/1/acknowledge")).status_code == 200
    ind = (await api.get("/api/kpis")).json()["indicators"]
    told, acked = ind["dispatched_pct"], ind["ack_in_dispatch_pct"]
    assert (told["value"], told["numerator"], told["denominator"]) == (100.0, 1.0, 1)
    assert (acked["value"], acked["numerator"], acked["denominator"]) == (0.0, 0.0, 1)
