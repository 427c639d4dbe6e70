"""Outside contractors: a team that is an outside company's, with contact points of its own,
and what its people (role `contractor`) may see.

A contractor team names its `company` and the addresses its jobs are told to (a configured
channel and an address on it, as a person's contact points; declared by an administrator, so
verified at once, tried in the order given). Its jobs may all need a signature before they
resolve (`sign_off_required`). A user of the `contractor` role belongs to contractor teams
only and sees only the jobs of their teams (docs/contractors.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.enums import Role
from cloud.errors import InvalidInput
from cloud.notify.channels import Channel
from cloud.notify.contacts import MAX_PER_USER, check_address
from cloud.notify.model import ContactPoint
from cloud.notify.outbox import verified_contacts
from cloud.users.model import Team, TeamMember, User

MAX_CONTACTS = MAX_PER_USER  # a team has as many addresses as a person may
LANGUAGES = ("en", "zh")  # the messages' languages, as a person's
MAX_COMPANY = 128


@dataclass(frozen=True, slots=True)
class Contact:
    channel: str
    address: str


@dataclass(frozen=True, slots=True)
class ContractorTerms:
    """What makes a team a contractor's (`contractor` False: an in-house team again)."""

    contractor: bool
    company: str | None = None
    contacts: Sequence[Contact] = ()
    sign_off_required: bool = False
    language: str = "en"  # of the messages to its own addresses


def team_contacts(session: Session, team: Team) -> list[ContactPoint]:
    """The team's own contact points, in the order they are tried (all verified)."""
    return verified_contacts(session, None, team_id=team.id)


def _contacts(contacts: Sequence[Contact], channels: dict[str, Channel]) -> list[Contact]:
    if len(contacts) > MAX_CONTACTS:
        raise InvalidInput(f"contacts: at most {MAX_CONTACTS} (got {len(contacts)})")
    out: list[Contact] = []
    for i, contact in enumerate(contacts):
        spec = channels.get(contact.channel)
        if spec is None:
            known = ", ".join(sorted(channels)) or "none configured"
            raise InvalidInput(
                f"contacts.{i}.channel: {contact.channel!r} is not a configured channel ({known})"
            )
        try:
            address = check_address(spec, contact.address)
        except InvalidInput as exc:
            raise InvalidInput(f"contacts.{i}.{exc.message}") from exc
        found = Contact(contact.channel, address)
        if found in out:
            raise InvalidInput(f"contacts.{i}: {contact.channel} {address} is listed twice")
        out.append(found)
    return out


def set_terms(
    session: Session,
    team: Team,
    terms: ContractorTerms,
    *,
    channels: dict[str, Channel],
    now: datetime,
) -> Team:
    """Make `team` a contractor's with `terms` (its contact points replaced by theirs, when
    they differ), or an in-house team again (its contact points removed); InvalidInput naming
    the field."""
    if terms.language not in LANGUAGES:
        raise InvalidInput(f"language: {terms.language!r} is not one of {', '.join(LANGUAGES)}")
    if terms.contractor:
        company: str | None = (terms.company or "").strip()
        if not company or len(company) > MAX_COMPANY:
            raise InvalidInput(f"company: a contractor team names its company (1-{MAX_COMPANY})")
        contacts = _contacts(terms.contacts, channels)
        wrong = [u.username for u in team.members if u.role is not Role.CONTRACTOR]
        why = "are not of the contractor role; a contractor team's members are its own people"
    else:
        if terms.company or terms.contacts:
            raise InvalidInput("company and contacts are a contractor's: set contractor: true")
        company, contacts = None, []
        wrong = [u.username for u in team.members if u.role is Role.CONTRACTOR]
        why = "are contractors; take them off the team first"
    if wrong:
        raise InvalidInput(f"members: {', '.join(wrong)} {why}")
    team.contractor = terms.contractor
    team.company = company
    team.sign_off_required = terms.contractor and terms.sign_off_required
    team.language = terms.language if terms.contractor else "en"
    if [Contact(p.channel, p.address) for p in team_contacts(session, team)] != contacts:
        session.execute(delete(ContactPoint).where(ContactPoint.team_id == team.id))
        for position, contact in enumerate(contacts):
            session.add(
                ContactPoint(
                    user_id=None,
                    team_id=team.id,
                    channel=contact.channel,
                    address=contact.address,
                    position=position,
                    verified=True,
                    verified_at=now,
                    created_at=now,
                )
            )
    session.flush()
    return team


def check_member(team: Team, user: User) -> None:
    """Contractors join contractor teams only, and a contractor team takes only contractors."""
    if user.role is Role.CONTRACTOR and not team.contractor:
        raise InvalidInput(
            f"members: {user.username} is a contractor; {team.name} is an in-house team"
        )
    if team.contractor and user.role is not Role.CONTRACTOR:
        raise InvalidInput(
            f"members: {user.username} is a {user.role.value}; {team.name} is "
            f"{team.company}'s team and takes the contractor role only"
        )


def visible_teams(session: Session, user: User) -> set[int] | None:
    """The teams whose jobs `user` may see: None for every job (anyone but a contractor), else
    the ids of their teams (none: they see no job)."""
    if user.role is not Role.CONTRACTOR:
        return None
    return set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))
