"""Occupants told through the notification channels, with a real SMTP server: a public report
with an e-mail gets its received/assigned/resolved e-mails with the tracking link (in Chinese
when the report was); a send cut short between claim and send is failed, never re-sent; a
contact no channel reaches is `no_channel`; the channel's rate limit holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud.notify.delivery import Deliverer
from cloud.notify.outbound import Outbound
from cloud.requests import updates
from cloud.requests.model import RequestUpdate
from tests.cloud.harness import Api
from tests.cloud.notify.mail import Smtp, html_of, smtp_server
from tests.cloud.requests.desk import act, desk_app, report, tick, work_it

pytestmark = pytest.mark.integration

MAIL = "ann@example.com"


@asynccontextmanager
async def site(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, *, channel_extra: str = "", **settings: Any
) -> AsyncIterator[tuple[Api, Smtp, Deliverer]]:
    with smtp_server(tmp, monkeypatch) as smtp:
        smtp.channels.write_text(smtp.channels.read_text() + channel_extra, encoding="utf-8")
        async with desk_app(
            tmp, notifications_file=smtp.channels, notify_link_secret="k" * 32, **settings
        ) as api:
            outbound: Outbound = api.app.state.outbound
            yield api, smtp, outbound.deliver(api.db, api.clock)


async def reported(api: Api, **form: str) -> tuple[int, str, str]:
    """A public report; its id, tracking reference and job number."""
    created = await report(api, "l1", **form)
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    rows = (await api.get("/api/requests", "desk1")).json()["items"]
    mine = next(r for r in rows if r["reference"] == reference)
    return mine["id"], reference, mine["work_order"]


async def messages(api: Api, request_id: int) -> list[dict[str, Any]]:
    response = await api.get(f"/api/requests/{request_id}", "desk1")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


@pytest.mark.parametrize(
    ("lang", "said"),
    [("en", "A technician has taken your request"), ("zh-CN", "维修人员已接单")],
)
async def test_a_reporter_gets_each_step_by_email_with_the_tracking_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str, said: str
) -> None:
    async with site(tmp_path, monkeypatch) as (api, smtp, deliverer):
        request_id, reference, number = await reported(
            api, name="Ann", phone="", email=MAIL, lang=lang
        )
        assert deliverer.tick() == 1  # received
        await act(api, number, "acknowledge")
        tick(api)
        assert deliverer.tick() == 1  # assigned
        await act(api, number, "start")
        await act(api, number, "resolve", note="replaced the driver")
        tick(api)
        assert deliverer.tick() == 2  # started, resolved
        assert deliverer.tick() == 0

        mails = smtp.messages_to(MAIL)
        assert len(mails) == 4
        link = f"/track/{reference}"
        for mail in mails:
            body = html_of(mail)
            assert link in body and reference in body
            plain = mail.get_body(preferencelist=("plain",))
            assert plain is not None and link in plain.get_content()
        assert said in html_of(mails[1])
        if lang == "zh-CN":
            assert "您的报修" in str(mails[0]["Subject"])
            assert "查看报修进度" in html_of(mails[0])
        else:
            assert "Your repair request" in str(mails[0]["Subject"])
        keys = {str(m["X-Plantroom-Message"]) for m in mails}
        assert len(keys) == 4

        shown = await messages(api, request_id)
        assert [m["kind"] for m in shown] == ["received", "assigned", "started", "resolved"]
        assert {(m["status"], m["channel"], m["attempts"]) for m in shown} == {("sent", "email", 1)}
        # a technician sees the delivery, not the reporter's address
        seen = (await api.get(f"/api/requests/{request_id}", "tech1")).json()
        assert seen["email"] != MAIL and seen["messages"][0]["status"] == "sent"


async def test_a_send_cut_short_after_its_claim_is_failed_not_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with site(tmp_path, monkeypatch) as (api, smtp, deliverer):
        request_id, _, _ = await reported(api, name="Ann", phone="", email=MAIL)
        with api.db.session() as session:  # a process claimed it, then died before sending
            [update_id] = session.scalars(
                select(RequestUpdate.id).where(RequestUpdate.request_id == request_id)
            ).all()
            assert updates.claim(session, update_id, channel="email", now=api.clock())
        assert deliverer.tick() == 0  # still within the send timeout: left alone
        assert (await messages(api, request_id))[0]["status"] == "sending"
        api.clock.advance(seconds=deliverer.policy.stale_after_s + 1)
        assert deliverer.tick() == 0
        [shown] = await messages(api, request_id)
        assert shown["status"] == "failed" and shown["last_error"] == updates.STOPPED
        assert deliverer.tick() == 0
        assert smtp.messages_to(MAIL) == []


async def test_a_contact_no_channel_reaches_is_marked_and_does_not_block_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with site(tmp_path, monkeypatch) as (api, smtp, deliverer):
        by_phone, _, _ = await reported(api, name="Li", phone="+86 138 0013 8000", email="")
        by_mail, _, _ = await reported(api, name="Ann", phone="", email=MAIL)
        assert deliverer.tick() == 1
        [phone_only] = await messages(api, by_phone)
        assert phone_only["status"] == "no_channel" and phone_only["attempts"] == 0
        assert "no configured channel" in phone_only["last_error"]
        assert (await messages(api, by_mail))[0]["status"] == "sent"
        assert deliverer.tick() == 0
        assert (await messages(api, by_phone))[0]["status"] == "no_channel"
        assert len(smtp.messages_to(MAIL)) == 1


async def test_the_channels_rate_limit_holds_for_reporters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the site's e-mail channel: one message a minute, no burst
    limited = "    rate_per_minute: 1\n    burst: 1\n"
    async with site(tmp_path, monkeypatch, channel_extra=limited) as (api, smtp, deliverer):
        request_id, _, number = await reported(api, name="Ann", phone="", email=MAIL)
        await work_it(api, number)
        tick(api)
        assert deliverer.tick() == 1
        assert deliverer.tick() == 0  # the bucket is empty: the rest wait
        shown = await messages(api, request_id)
        assert [m["status"] for m in shown] == ["sent", "pending", "pending", "pending"]
        assert deliverer.reporters is not None and deliverer.reporters.stats.rate_limited >= 1
        sent = 1
        for _ in range(len(shown) - 1):
            api.clock.advance(seconds=61)
            assert deliverer.tick() == 1
            assert deliverer.tick() == 0
            sent += 1
            assert len(smtp.messages_to(MAIL)) == sent
        assert {m["status"] for m in await messages(api, request_id)} == {"sent"}


async def test_a_refused_send_is_retried_with_backoff_then_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with site(tmp_path, monkeypatch, notify_max_attempts=2) as (api, smtp, deliverer):
        request_id, _, _ = await reported(api, name="Ann", phone="", email=MAIL)
        smtp.box.stop()  # the mail server is down: every send is refused
        assert deliverer.tick() == 0
        [shown] = await messages(api, request_id)
        assert shown["status"] == "pending" and shown["attempts"] == 1 and shown["last_error"]
        assert deliverer.tick() == 0  # waiting out its backoff
        assert (await messages(api, request_id))[0]["attempts"] == 1
        api.clock.advance(seconds=deliverer.policy.retry_max_s + 1)
        assert deliverer.tick() == 0
        [shown] = await messages(api, request_id)
        assert shown["status"] == "failed" and shown["attempts"] == 2
