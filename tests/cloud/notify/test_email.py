"""E-mail through a real SMTP server (STARTTLS, login): a dispatched job's outbox row is sent
once to the assignee's verified address, carries the job and a link that acknowledges it as
that person ("via email link" in the audit) once; the row shows each step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cloud.enums import Role
from cloud.notify.outbound import Outbound
from cloud.sla.escalator import Escalator
from tests.cloud.harness import Api, serve, settings_for
from tests.cloud.notify.mail import Smtp, ack_link, html_of, smtp_server

pytestmark = pytest.mark.integration


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Api, Smtp]]:
    with smtp_server(tmp_path, monkeypatch) as smtp:
        settings = settings_for(
            tmp_path, notifications_file=smtp.channels, notify_link_secret="k" * 32
        )
        users = {"tech1": Role.TECHNICIAN, "tech2": Role.TECHNICIAN, "admin1": Role.ADMIN}
        async with serve(settings, users=users) as api:
            yield api, smtp


def outbound(api: Api) -> Outbound:
    found: Outbound = api.app.state.outbound
    return found


async def add_email(api: Api, username: str, address: str) -> None:
    r = await api.post(
        f"/api/users/{username}/contact-points",
        who="admin1",
        json={"channel": "email", "address": address, "verified": True},
    )
    assert r.status_code == 201, r.text


async def test_a_dispatched_job_is_mailed_once_and_its_link_acknowledges_it(
    site: tuple[Api, Smtp],
) -> None:
    api, smtp = site
    await add_email(api, "tech1", "tech1@example.com")
    api.fault("p1", "pump.dry_run")
    Escalator(api.db, api.state.sla, clock=api.clock).tick()  # tech1 and tech2: all technicians
    deliverer = outbound(api).deliver(api.db, api.clock)
    assert deliverer.tick() == 1  # tech2 has no contact point: failed at once, nothing sent
    assert deliverer.tick() == 0

    rows = (await api.get("/api/notifications/outbox", params={"work_order": "WO-000001"})).json()
    by_user = {r["username"]: r for r in rows}
    assert by_user["tech1"]["status"] == "sent" and by_user["tech1"]["channel"] == "email"
    assert by_user["tech2"]["status"] == "failed"
    assert by_user["tech2"]["last_error"] == "no verified contact point"

    [mail] = smtp.messages_to("tech1@example.com")
    assert mail["X-Plantroom-Message"] == by_user["tech1"]["message_id"]
    assert "WO-000001" in str(mail["Subject"])
    body = html_of(mail)
    assert "p1" in body and "urgent" in body

    # a mail reader that shows only the plain text still gets the link, whole
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None and ack_link(mail) in plain.get_content()
    path = urlsplit(ack_link(mail)).path
    page = await api.client.get(path)
    assert page.status_code == 200 and "Acknowledge WO-000001" in page.text
    done = await api.client.post(path, headers={"Accept": "application/json"})
    assert done.status_code == 200, done.text
    assert done.json() == {"number": "WO-000001", "status": "acknowledged"}
    audit = (await api.get("/api/work-orders/1/audit")).json()
    ack = [e for e in audit if e["action"] == "acknowledge"]
    assert ack and ack[0]["actor"] == "tech1" and ack[0]["note"] == "via email link"

    again = await api.client.post(path, headers={"Accept": "application/json"})
    assert again.status_code == 410 and again.json()["error"]["code"] == "link_used"
    rows = (await api.get("/api/work-orders/WO-000001/notifications")).json()
    assert {r["username"]: r["status"] for r in rows}["tech1"] == "acknowledged"
    # someone else's address is masked for a technician, shown to a supervisor
    api.user("super1", Role.SUPERVISOR)
    seen = {
        who: {r["username"]: r["address"] for r in (await api.get(url, who=who)).json()}
        for who in ("tech1", "tech2", "super1")
        for url in ["/api/work-orders/WO-000001/notifications"]
    }
    assert seen["tech1"]["tech1"] == seen["super1"]["tech1"] == "tech1@example.com"
    assert seen["tech2"]["tech1"] == "t***1@example.com"
