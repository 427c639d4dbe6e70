"""Taking a report in: an occupant's public report or a call the service desk logs. Each is
checked, its location resolved from its code, and triaged onto a work order:

- a report about equipment that has a repair job open, or an active alarm with its job, joins
  that job rather than raising another;
- a report about a place (a building-level code) joins the job already open for the same
  code and category: several reports of one thing are one job, which counts its reporters;
- otherwise a new request job is raised, its SLA clocks starting at the report (for a call,
  at the time of the call), routed to the team of the equipment's trade, or else of the
  category's trade.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.alarms.model import Alarm
from cloud.enums import AlarmState, Channel, Priority, WorkOrderKind, WorkOrderStatus
from cloud.equipment import Equipment
from cloud.errors import InvalidInput
from cloud.locale import N_
from cloud.locale.composed import compose
from cloud.requests.config import DeskConfig
from cloud.requests.messages import LANGS
from cloud.requests.model import RepairRequest
from cloud.requests.updates import add_update
from cloud.sla import SlaPolicy
from cloud.users.model import User
from cloud.workorders.audit import system_event
from cloud.workorders.creation import create_work_order, describe_equipment
from cloud.workorders.model import WorkOrder
from cloud.workorders.routing import route_team
from cloud.workorders.rules import LIVE, REPAIRS

S = WorkOrderStatus
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,30}\Z")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+\Z")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
MAX_WHAT = 2000
MAX_PLACE = 200
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Report:
    """What someone reported, as given (checked by `submit`)."""

    code: str
    what: str
    site: str | None = None  # the equipment's, when its id is used at several sites
    category: str | None = None
    place: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    lang: str = "en"
    urgency: Priority | None = None
    photo: bytes | None = None


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{field}: required")
        return None
    if len(text) > limit:
        raise InvalidInput(f"{field}: {len(text)} characters is more than {limit}")
    return text


def check_contact(report: Report, *, contact: str, name_required: bool) -> None:
    """The reporter's name and contact, as the site requires (`contact`: none,
    phone_or_email, phone or email); a contact given must be well formed."""
    _text(report.name, "name", MAX_NAME, required=name_required)
    phone = (report.phone or "").strip()
    email = (report.email or "").strip()
    if phone and not PHONE.match(phone):
        raise InvalidInput("phone: digits, spaces, brackets or dashes, optionally after a '+'")
    if email and (len(email) > 254 or not EMAIL.match(email)):
        raise InvalidInput("email: not an e-mail address")
    if contact == "phone" and not phone:
        raise InvalidInput("phone: required")
    if contact == "email" and not email:
        raise InvalidInput("email: required")
    if contact == "phone_or_email" and not (phone or email):
        raise InvalidInput("phone: a phone number or an e-mail address is required")


def resolve_location(
    session: Session, code: str, site: str | None = None
) -> tuple[str, Equipment | None]:
    """The building and the equipment (if any) a location code names: an equipment id (of
    `site`, when its id is used at several sites; a label's address names the site), or a
    building id for that building's common areas."""
    if not CODE.match(code):
        raise InvalidInput("code: letters, digits, '.', '_' or '-', at most 64")
    query = select(Equipment).where(Equipment.id == code, Equipment.in_inventory.is_(True))
    if site is not None:
        query = query.where(Equipment.site == site)
    matches = list(session.scalars(query.order_by(Equipment.site).limit(2)))
    if len(matches) > 1:
        raise InvalidInput(f"code: {code!r} is equipment at several sites; say which with site")
    if matches:
        return matches[0].building, matches[0]
    found = session.scalar(
        select(Equipment.building)
        .where(func.lower(Equipment.building) == code.lower(), Equipment.in_inventory.is_(True))
        .limit(1)
    )
    if found is None:
        raise InvalidInput(f"code: {code!r} is neither equipment nor a building of this site")
    return found, None


def existing_job(
    session: Session, *, equipment: Equipment | None, code: str, category: str
) -> WorkOrder | None:
    """The job a new report joins, if any (see the module)."""
    if equipment is not None:
        live = session.scalar(
            select(WorkOrder)
            .where(
                WorkOrder.site == equipment.site,
                WorkOrder.equipment_id == equipment.id,
                WorkOrder.kind.in_(REPAIRS),
                WorkOrder.status.in_(LIVE),
            )
            .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
            .limit(1)
        )
        if live is not None:
            return live
        return session.scalar(
            select(WorkOrder)
            .join(Alarm, WorkOrder.alarm_id == Alarm.id)
            .where(
                Alarm.site == equipment.site,
                Alarm.equipment_id == equipment.id,
                Alarm.state == AlarmState.ACTIVE,
                WorkOrder.status.not_in((S.CLOSED, S.CANCELLED)),
            )
            .order_by(WorkOrder.id.desc())
            .limit(1)
        )
    return session.scalar(
        select(WorkOrder)
        .join(RepairRequest, RepairRequest.work_order_id == WorkOrder.id)
        .where(
            func.lower(RepairRequest.location_code) == code.lower(),
            RepairRequest.category == category,
            WorkOrder.status.in_(LIVE),
        )
        .order_by(WorkOrder.id.desc())
        .limit(1)
    )


def reporters(session: Session, work_order_id: int) -> int:
    """How many reports a job has."""
    return (
        session.scalar(select(func.count()).where(RepairRequest.work_order_id == work_order_id))
        or 0
    )


def _new_job(
    session: Session,
    request: RepairRequest,
    equipment: Equipment | None,
    *,
    at: datetime,
    sla: SlaPolicy,
    config: DeskConfig,
    user: User | None,
    channel: Channel,
) -> WorkOrder:
    first_line = request.what.splitlines()[0][:120]
    subject = describe_equipment(equipment) if equipment is not None else request.place
    title = f"{request.category}: {first_line}" + (f" ({subject})" if subject else "")
    how = (
        N_("call logged by the service desk (%(category)s)")
        if user is not None
        else N_("public report (%(category)s)")
    )
    wo = create_work_order(
        session,
        title=title,
        kind=WorkOrderKind.REQUEST,
        priority=request.urgency,
        now=at,
        sla=sla,
        channel=channel,
        equipment=equipment,
        building=request.building,
        description=request.what,
        created_by=user,
        note=compose(how, category=request.category),
        location=request.place,
    )
    if wo.team is None:
        kind = config.categories.routing_kind(request.category)
        team = route_team(session, request.building, kind, now=at)
        if team is not None:
            wo.team = team
            wo.events[-1].details = {"team": team.name, "category": request.category}
    return wo


def submit(
    session: Session,
    report: Report,
    *,
    now: datetime,
    sla: SlaPolicy,
    config: DeskConfig,
    user: User | None = None,
    called_at: datetime | None = None,
    channel: Channel = Channel.API,
) -> RepairRequest:
    """Take `report` in: a public report (no `user`), or a call `user` logged, which happened
    at `called_at` (its SLA clocks start then). Raises InvalidInput naming the field."""
    at = called_at or now
    building, equipment = resolve_location(session, report.code.strip(), report.site)
    what = _text(report.what, "what", MAX_WHAT, required=True)
    assert what is not None
    category = report.category or config.categories.for_kind(
        equipment.kind if equipment is not None else None
    )
    spec = config.categories.get(category)
    urgency = report.urgency or spec.urgency
    if report.lang not in LANGS:
        raise InvalidInput(f"lang: {report.lang!r} is not one of {', '.join(LANGS)}")
    request = RepairRequest(
        token=secrets.token_urlsafe(16),
        source="public" if user is None else "desk",
        created_at=at,
        location_code=report.code.strip(),
        building=building,
        equipment_id=equipment.id if equipment is not None else None,
        site=equipment.site if equipment is not None else None,
        category=category,
        urgency=urgency,
        what=what,
        place=_text(report.place, "place", MAX_PLACE),
        lang=report.lang,
        reporter_name=_text(report.name, "name", MAX_NAME),
        reporter_phone=(report.phone or "").strip() or None,
        reporter_email=(report.email or "").strip() or None,
        photo=report.photo,
        photo_type="image/jpeg" if report.photo else None,
        merged=False,
        seen_event_id=0,
        logged_by=user,
    )
    wo = existing_job(session, equipment=equipment, code=request.location_code, category=category)
    if wo is None:
        wo = _new_job(
            session, request, equipment, at=at, sla=sla, config=config, user=user, channel=channel
        )
    else:
        request.merged = True
    request.work_order = wo
    session.add(request)
    session.flush()
    count = reporters(session, wo.id)
    if request.merged:
        system_event(
            session,
            wo,
            "reported",
            compose(N_("another report of this problem (%(count)s reports)"), count=count),
            at=now,
            details={"reporters": count, "source": request.source, "category": category},
        )
    session.flush()
    request.seen_event_id = max((e.id for e in wo.events), default=0)
    params = {
        "reference": request.token,
        "promised": wo.resolve_due_at.isoformat() if wo.resolve_due_at else None,
        "reporters": count,
    }
    add_update(session, request, "linked" if request.merged else "received", now, params, config)
    return request
