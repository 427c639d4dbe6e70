"""A contractor's job is told to the contractor, through the outbox and a real SMTP server
(STARTTLS, login): the team's own address gets the job with a link to its page in the
console (no acknowledge link: the address is shared), its people are told in the app, the
in-house rota is not told; an address that keeps failing falls over to the team's next one;
the office hears of an overdue contractor job at its own stages. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import Priority, Role
from cloud.notify.model import OutboxMessage, OutboxStatus
from cloud.notify.outbound import Outbound
from cloud.oncall.schemas import RotaIn
from cloud.oncall.service import set_rota
from cloud.sla.escalator import Escalator
from cloud.users.model import Team, User
from cloud.users.service import add_team, get_team
from cloud.workorders.model import Notification
from tests.cloud.harness import Api, add_members, serve, settings_for
from tests.cloud.notify.mail import LINK, Smtp, html_of, smtp_server

pytestmark = pytest.mark.integration

USERS = {
    "tech1": Role.TECHNICIAN,
    "tech2": Role.TECHNICIAN,
    "super1": Role.SUPERVISOR,
    "admin1": Role.ADMIN,
    "lift1": Role.CONTRACTOR,
}
SERVICE = "service@lifts.example.com"
# a chat channel whose server is not there: every message to it fails
CHAT = '  chat:\n    url: "json://127.0.0.1:9/{address}"\n    style: chat\n'
NIGHT = "night@lifts.example.com"


@pytest.fixture
async def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> AsyncIterator[tuple[Api, Smtp]]:
    with smtp_server(tmp_path, monkeypatch, extra=CHAT) as smtp:
        settings = settings_for(
            tmp_path,
            database_url=database_url,
            notifications_file=smtp.channels,
            notify_link_secret="k" * 32,
            notify_public_url="http://plantroom.example.com",
        )
        async with serve(settings, users=USERS) as api:
            yield api, smtp


async def contractor(api: Api, *emails: str, chat: str | None = None) -> None:
    """The lift contractor (with lift1) told at `chat` (first) and `emails`, and b2's in-house
    lift team with a rota of tech1 and tech2 on call: the one a lift job would otherwise go
    to."""
    contacts = [{"channel": "email", "address": a} for a in emails]
    if chat is not None:
        contacts.insert(0, {"channel": "chat", "address": chat})
    body = {
        "name": "lift-contractor",
        "trade": "lifts",
        "contractor": True,
        "company": "Harbour Lift Services Ltd",
        "contacts": contacts,
        "members": ["lift1"],
    }
    answer = await api.post("/api/teams", "admin1", json=body)
    assert answer.status_code == 201, answer.text
    with api.db.session() as session:
        team = add_team(session, "b2-lifts", "lifts", now=api.clock(), building="b2")
        add_members(session, team, ("tech1", "tech2"))
        rota = RotaIn(rotation="daily", starts_on=api.clock().date(), members=["tech1", "tech2"])
        set_rota(session, team, rota, now=api.clock(), site_zone="UTC")


def visit(api: Api, priority: Priority = Priority.NORMAL) -> str:
    """The lift contractor's visit to lift e1 (building b2); its number."""
    with api.db.session() as session:
        team = get_team(session, "lift-contractor")
        wo = api.pm_job(
            session, "e1", "Lift half-monthly maintenance visit", priority=priority, team=team
        )
        session.flush()
        return wo.number


def outbound(api: Api) -> Outbound:
    found: Outbound = api.app.state.outbound
    return found


def name_of(session: Session, kind: type[User] | type[Team], key: int | None) -> str | None:
    found = session.get(kind, key) if key is not None else None
    if isinstance(found, User):
        return found.username
    return found.name if isinstance(found, Team) else None


def told(api: Api) -> list[tuple[str | None, str | None, str, OutboxStatus]]:
    """Each outbox row: (username, team, address, status)."""
    with api.db.sessions() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [
            (
                name_of(session, User, r.user_id),
                name_of(session, Team, r.team_id),
                r.address or "",
                r.status,
            )
            for r in rows
        ]


async def test_a_contractors_job_is_mailed_to_the_contractor_not_the_rota(
    site: tuple[Api, Smtp],
) -> None:
    api, smtp = site
    await contractor(api, SERVICE, NIGHT)
    number = visit(api)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()

    rows = told(api)
    assert [(team, address) for _, team, address, _ in rows if team] == [
        ("lift-contractor", SERVICE)
    ]
    people = {user for user, _, _, _ in rows if user}
    assert people == {"lift1"}  # in the app (no address of their own): not the rota
    with api.db.sessions() as session:
        inbox = session.scalars(select(Notification)).all()
        assert {name_of(session, User, n.user_id) for n in inbox} == {"lift1"}

    deliverer = outbound(api).deliver(api.db, api.clock)
    assert deliverer.tick() == 1
    [mail] = smtp.messages_to(SERVICE)
    assert not smtp.messages_to(NIGHT)  # the next address is for when this one fails
    assert number in str(mail["Subject"])
    body = html_of(mail)
    assert "Harbour Lift Services Ltd" in body and "e1" in body
    assert not LINK.findall(body), "a shared address gets no acknowledge link"
    with api.db.sessions() as session:
        wo_id = session.scalar(select(OutboxMessage.work_order_id))
    assert f"http://plantroom.example.com/#/jobs/{wo_id}" in body

    # the job's messages, as its page shows them, to the contractor's own people too
    shown = (await api.get(f"/api/work-orders/{number}/notifications", "lift1")).json()
    mine = [r for r in shown if r["team"] == "lift-contractor"]
    assert len(mine) == 1 and mine[0]["status"] == "sent" and mine[0]["user_id"] is None
    # ... and again: one row per team, job and stage
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    assert deliverer.tick() == 0 and len(smtp.messages_to(SERVICE)) == 1


async def test_a_failing_address_falls_over_to_the_contractors_next_one(
    site: tuple[Api, Smtp],
) -> None:
    api, smtp = site
    await contractor(api, SERVICE, chat="desk")  # the chat channel: nothing listens
    told_in_chinese = await api.client.patch(
        "/api/teams/lift-contractor", headers=api.auth("admin1"), json={"language": "zh"}
    )
    assert told_in_chinese.status_code == 200, told_in_chinese.text
    number = visit(api)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    deliverer = outbound(api).deliver(api.db, api.clock)
    policy = deliverer.policy
    for _ in range(policy.failover_after + 1):
        deliverer.tick()
        api.clock.advance(seconds=policy.retry_max_s)
    [mail] = smtp.messages_to(SERVICE)
    assert "Harbour Lift Services Ltd" in html_of(mail)
    assert "登录后确认" in html_of(mail)  # the contractor's language
    assert "电梯半月维护保养" in html_of(mail)  # the shipped plan's title, in Chinese
    [(_, _, address, status)] = [r for r in told(api) if r[1]]
    assert (address, status) == (SERVICE, OutboxStatus.SENT)
    trail = (await api.get(f"/api/work-orders/{number}/audit", "super1")).json()
    failing = [e for e in trail if e["action"] == "notification_channel_failing"]
    assert failing and failing[0]["details"]["team_id"] is not None


async def test_the_office_hears_of_an_overdue_contractors_job(site: tuple[Api, Smtp]) -> None:
    api, _ = site
    await contractor(api, SERVICE)
    number = visit(api, Priority.URGENT)
    escalator = Escalator(api.db, api.state.sla, clock=api.clock)
    escalator.tick()
    api.clock.advance(timedelta(days=2).total_seconds())
    escalator.tick()
    trail = (await api.get(f"/api/work-orders/{number}/audit", "super1")).json()
    stages = [e["details"] for e in trail if e["action"] == "escalated"]
    assert stages, "the overdue job was escalated"
    told_by_level = {d["level"]: (set(d["recipients"]), d.get("contractor")) for d in stages}
    for level, (people, team) in told_by_level.items():
        assert not people & {"tech1", "tech2"}, f"the rota was told at {level}"
        if level in ("supervisor", "manager"):
            assert team is None  # the office's own stages
    assert any(people & {"super1", "admin1"} for people, _ in told_by_level.values())
