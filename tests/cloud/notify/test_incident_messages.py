"""A building's power failure on the simulated plant, told by e-mail through a real SMTP
server: one message per person for the whole incident (not one per job), the lift and fire
checks listed first, and the message's leading link acknowledges every job it carried."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.enums import Priority, Role, WorkOrderStatus
from cloud.incidents.service import FIRE_CHECK_RULE, INCIDENT_RULE, LIFT_CHECK_RULE
from cloud.notify import contacts
from cloud.notify.acknowledge import acknowledge_by_link
from cloud.notify.channels import load_channels
from cloud.notify.delivery import Deliverer
from cloud.notify.links import LinkSigner
from cloud.notify.model import OutboxMessage, OutboxStatus
from cloud.notify.sender import AppriseSender
from cloud.notify.templates import Templates
from cloud.sla.escalator import Escalator
from cloud.users.service import add_user
from tests.cloud.notify.mail import Smtp, ack_link, html_of, smtp_server
from tests.cloud.plant import CAMPUS, TOWER_A, Plant
from tests.harness import wait_for

pytestmark = pytest.mark.integration

PEOPLE = {"tech1": Role.TECHNICIAN, "tech2": Role.TECHNICIAN, "super1": Role.SUPERVISOR}
WINDOW_S = 240.0  # longer than the emergency's respond time: dispatch and escalation meet


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Plant, Smtp]]:
    with smtp_server(tmp_path, monkeypatch) as smtp:
        plant = Plant(tmp_path, inventory_text=CAMPUS)
        channels = load_channels(smtp.channels, default_rate=600.0)
        with plant.db.session() as session:
            for username, role in PEOPLE.items():
                user = add_user(session, username, role, now=plant.now())
                contacts.add(
                    session,
                    user,
                    channels,
                    channel="email",
                    address=f"{username}@example.com",
                    now=plant.now(),
                    verified=True,
                )
        try:
            yield plant, smtp
        finally:
            plant.close()


def test_a_power_failure_is_one_message_per_person_with_lift_and_fire_checks_first(
    site: tuple[Plant, Smtp],
) -> None:
    plant, smtp = site
    links = LinkSigner("incident-link-key-0123456789", ttl_s=3600, base_url="http://cloud")
    deliverer = Deliverer(
        plant.db,
        load_channels(smtp.channels, default_rate=600.0),
        AppriseSender(timeout_s=10.0),
        templates=Templates(plant.timezone),
        links=links,
        clock=plant.now,
        incident_window_s=WINDOW_S,
    )
    plant.run(60, step=10)
    plant.sim.set_power(TOWER_A, False, trapped=1)
    plant.run(300, step=5)
    jobs = plant.work_orders()
    assert [w.rule_id for w in jobs] == [
        LIFT_CHECK_RULE,
        LIFT_CHECK_RULE,
        FIRE_CHECK_RULE,
        FIRE_CHECK_RULE,
        INCIDENT_RULE,
    ]
    escalator = Escalator(plant.db, plant.sla, clock=plant.now)
    escalator.tick()  # dispatched: the on-call technician and the supervisor at once
    plant.sim.advance(plant.sla.priorities[Priority.EMERGENCY].respond + 1)
    escalator.tick()  # not acknowledged within the respond time: the first escalation stage
    assert deliverer.tick() == 0  # the incident's rows wait for its other jobs
    plant.sim.advance(WINDOW_S + 1)
    deliverer.tick()

    with plant.db.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage)))
    told = sorted({r.user_id for r in rows if r.user_id is not None})
    # a row per person, job and stage, as ever: dispatch and an escalation stage
    assert {(r.user_id, r.work_order_id) for r in rows} == {(u, w.id) for u in told for w in jobs}
    assert len(rows) > len(told) * len(jobs)
    wait_for(lambda: len(smtp.box.received()) >= len(told), "the incident's e-mails", within=10)
    per_person = Counter(str(m["To"]) for m in smtp.box.received())
    # the figure the issue asks for: messages per person for a building's power failure
    assert set(per_person.values()) == {1}, per_person
    assert len(per_person) == len(told) >= 2

    mail = smtp.messages_to("tech1@example.com")[0]
    body = html_of(mail)
    numbers = [w.number for w in jobs]
    at = [body.index(f"Open and acknowledge {n}") for n in numbers]
    assert at == sorted(at)  # lifts, then fire panels, then the incident's own job
    assert "tower-a" in str(mail["Subject"]) or "5 job(s)" in str(mail["Subject"])

    # the leading row's link (the first in the message) acknowledges all the jobs it carried
    token = ack_link(mail).rsplit("/", 1)[1]
    with plant.db.session() as session:
        done = acknowledge_by_link(session, links, token, now=plant.now(), sla=plant.sla)
    assert sorted(w.number for w in done) == sorted(numbers)
    assert all(w.status is WorkOrderStatus.ACKNOWLEDGED for w in plant.work_orders())
    with plant.db.sessions() as session:
        mine = [r for r in session.scalars(select(OutboxMessage)) if r.user_id == told[0]]
    assert {r.status for r in mine} == {OutboxStatus.ACKNOWLEDGED}
