"""What one message says: the jobs of its outbox rows as the templates take them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from cloud.incidents.model import Incident
from cloud.locale import Text, language_of
from cloud.locale.shipped import shipped
from cloud.notify.channels import Channel
from cloud.notify.links import LinkSigner
from cloud.notify.model import OutboxMessage
from cloud.notify.templates import JobFacts, Rendered, Templates
from cloud.users.model import Team, User
from cloud.workorders.model import WorkOrder


def job_facts(session: Session, row: OutboxMessage, link: str, language: str) -> JobFacts:
    """The job of `row` as a message in `language` shows it: a shipped plan's or rule's
    title in that language."""
    wo = session.get(WorkOrder, row.work_order_id)
    if wo is None:
        raise LookupError(f"outbox row {row.id}: work order {row.work_order_id} is gone")
    equipment = wo.equipment
    label = None
    if equipment is not None:
        label = f"{equipment.name} ({equipment.id})" if equipment.name else equipment.id
    return JobFacts(
        number=wo.number,
        title=shipped(Text(language_of(language), UTC), wo.title),
        priority=wo.priority.value,
        equipment=label,
        equipment_kind=equipment.kind if equipment is not None else None,
        building=wo.building,
        location=wo.location,
        due_at=wo.respond_due_at,
        link=link,
    )


def message_key(row: OutboxMessage) -> str:
    """The message's key, the same however often it is tried (an RFC 5322 msg-id shape)."""
    return f"<outbox-{row.id}.{row.link_jti}@plantroom>"


def compose(
    session: Session,
    rows: Sequence[OutboxMessage],
    channel: Channel,
    *,
    templates: Templates,
    links: LinkSigner,
    now: datetime,
) -> Rendered:
    """The message to `rows[0]`'s person (or contractor team) about every row's job, each
    job once (rows share the person, and the incident when there is more than one); `rows[0]`
    leads. A team's message links each job's page in the console: a shared address is
    nobody in particular, so it carries no acknowledge link."""
    lead = rows[0]
    language, person = _addressee(session, lead)
    firsts = {row.work_order_id: row for row in reversed(rows)}  # a job once, its first row
    jobs = [
        job_facts(session, row, _link(row, links, now), language)
        for row in rows
        if firsts[row.work_order_id] is row
    ]
    incident = session.get(Incident, lead.incident_id) if lead.incident_id else None
    escalated = any(row.kind == "escalated" for row in rows)
    return templates.render(
        channel.style,
        language=language,
        jobs=jobs,
        kind="escalated" if escalated else lead.kind,
        incident=incident.title if incident is not None else None,
        person=person,
        shared=lead.user_id is None,
    )


def _addressee(session: Session, row: OutboxMessage) -> tuple[str, str]:
    """The language of the message and whom it greets: the person, or the contractor."""
    if row.user_id is None:
        team = session.get(Team, row.team_id) if row.team_id is not None else None
        if team is None:
            raise LookupError(f"outbox row {row.id}: team {row.team_id} is gone")
        return team.language, team.company or team.name
    user = session.get(User, row.user_id)
    if user is None:
        raise LookupError(f"outbox row {row.id}: user {row.user_id} is gone")
    return user.language, user.display_name or user.username


def _link(row: OutboxMessage, links: LinkSigner, now: datetime) -> str:
    if row.user_id is None:
        return f"{links.base_url}/#/jobs/{row.work_order_id}"
    return links.link(
        outbox_id=row.id,
        user_id=row.user_id,
        work_order_id=row.work_order_id,
        jti=row.link_jti,
        now=now,
    )
