"""What the notifier's tests send: a work-order event as it leaves the database, a job's
facts for the templates, and a deliverer with a recording sender on the test app's outbox,
the contacts it sends to and the acknowledge link it signs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from cloud.notify import contacts
from cloud.notify.channels import Channel, Style
from cloud.notify.delivery import Deliverer, DeliveryPolicy
from cloud.notify.events import Outgoing
from cloud.notify.links import LinkSigner
from cloud.notify.sender import SendFailed
from cloud.notify.templates import JobFacts, Rendered, Templates
from cloud.sla.escalator import Escalator
from cloud.users.service import get_user
from tests.cloud.harness import Api

AT = datetime(2026, 11, 2, 9, 30, 15, 250000, tzinfo=UTC)


def outgoing(action: str = "created", event_id: int = 7, **wo: Any) -> Outgoing:
    facts = {
        "id": 1,
        "number": "WO-000001",
        "title": "Pump running dry: Pump 1 (p1)",
        "kind": "fault",
        "priority": "urgent",
        "status": "open",
        "building": "b1",
        "equipment_id": "p1",
    } | wo
    return Outgoing(
        event_id=event_id,
        at=AT,
        action=action,
        actor="system" if action == "created" else "tech1",
        channel="system" if action == "created" else "cli",
        from_status=None,
        to_status="open",
        note="dry run, suction tank low" if action == "resolve" else None,
        details=None,
        site="s1",
        work_order=facts,
    )


DUE = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai


def job(number: str = "WO-000007", kind: str = "pump", equipment: str = "Pump 1 (p1)") -> JobFacts:
    """An urgent dry-run job on `equipment` in tower-a's B2 plant room, due at DUE."""
    return JobFacts(
        number=number,
        title="Pump running dry",
        priority="urgent",
        equipment=equipment,
        equipment_kind=kind,
        building="tower-a",
        location="B2 plant room",
        due_at=DUE,
        link=f"https://plantroom.example.com/ack/{number}-token",
    )


LINK_KEY = "test-link-key-0123456789"


class Recorder:
    """Takes every message, or refuses those to `failing` addresses."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Rendered, str]] = []
        self.failing: set[str] = set()

    def send(self, channel: Channel, address: str, message: Rendered, key: str) -> None:
        if address in self.failing:
            raise SendFailed(f"channel {channel.name}: {address} refused")
        self.sent.append((channel.name, address, message, key))


CHANNELS = {
    "email": Channel("email", "mailto://x?to={address}", Style.EMAIL, 6000.0, 10),
    "sms": Channel("sms", "json://x/{address}", Style.SMS, 6000.0, 10),
}


def contact(api: Api, username: str, channel: str, address: str) -> None:
    """A verified contact point of `username`."""
    with api.db.session() as session:
        user = get_user(session, username)
        assert user is not None
        contacts.add(
            session,
            user,
            CHANNELS,
            channel=channel,
            address=address,
            now=api.clock(),
            verified=True,
        )


def deliverer(
    api: Api, sender: Recorder, policy: DeliveryPolicy | None = None, *, interval: float = 0.25
) -> Deliverer:
    """A deliverer of `api`'s outbox through `sender`, in Shanghai time, signing with LINK_KEY."""
    return Deliverer(
        api.db,
        CHANNELS,
        sender,
        templates=Templates(ZoneInfo("Asia/Shanghai")),
        links=LinkSigner(LINK_KEY, ttl_s=3600, base_url="http://cloud"),
        clock=api.clock,
        policy=policy,
        interval=interval,
    )


def dispatch(api: Api) -> None:
    """A dry-run fault on p1, its work order dispatched by the escalator."""
    api.fault("p1", "pump.dry_run")
    Escalator(api.db, api.state.sla, clock=api.clock).tick()


def sent_link(api: Api) -> str:
    """The path of the acknowledge link in the one message sent (to tech1) once the job is
    dispatched, signed by a deliverer whose links the app checks."""
    dispatch(api)
    sender = Recorder()
    d = deliverer(api, sender)
    api.app.state.outbound.links = d._links  # the app checks the links this one signs
    d.tick()
    [(_, _, message, _)] = sender.sent
    return urlsplit(message.body.split('href="')[1].split('"')[0]).path
