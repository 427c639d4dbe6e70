"""The demo accounts: a user of each role with a fresh token, a team per building and
trade with the field staff in it and an on-call rota, and the lift contractor's team (the
company that does the statutory lift visits) with its technician; their credentials written
to a private file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import TRADE_OF_KIND, Role, Trade
from cloud.equipment import Equipment, key
from cloud.notify.model import ContactPoint
from cloud.oncall.model import Rota
from cloud.oncall.schemas import RotaIn
from cloud.oncall.service import rota_of, set_rota
from cloud.users.model import Team, User
from cloud.users.service import add_team, add_user, get_user, issue_token, revoke_tokens, set_member
from cloud.workorders.model import PmSchedule
from plantroom.errors import ConfigError

DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("tech1", Role.TECHNICIAN, "Tech One"),
    ("tech2", Role.TECHNICIAN, "Tech Two"),
    ("super1", Role.SUPERVISOR, "Super One"),
    ("eng1", Role.ENGINEER, "Engineer One"),
    ("admin1", Role.ADMIN, "Admin One"),
    ("lift1", Role.CONTRACTOR, "Lift Contractor One"),
)
# Every demo user's e-mail address: <username>@DEMO_MAIL_DOMAIN (the demo's SMTP server keeps it).
DEMO_MAIL_DOMAIN = "demo.example.com"
# Demo teams take these members: the field staff.
DEMO_TEAM_MEMBERS = ("tech1", "tech2", "super1")
# The lift contractor: the team the shipped lift plans' contractor visits go to
# (`team: lift-contractor` in cloud/pm/plans/elevator.yaml), its technician, and the address
# its jobs are told to (on the demo's mail channel).
DEMO_CONTRACTOR = "lift-contractor"
DEMO_CONTRACTOR_COMPANY = "Harbour Lift Services Ltd"
DEMO_CONTRACTOR_MEMBERS = ("lift1",)
DEMO_CONTRACTOR_ADDRESS = f"service@lifts.{DEMO_MAIL_DOMAIN}"
# The contractor's visit the demo shows at once: this shipped plan's first due date for the
# site's first lift is brought forward to its lead (two days on), so the PM scheduler raises
# it at its first evaluation rather than a fortnight after the demo first starts.
DEMO_VISIT_PLAN = "elevator.routine_maintenance"
DEMO_VISIT_LEAD = timedelta(days=2)
DEMO_VISIT_EVERY = timedelta(days=15)


def ensure_demo_contact(
    session: Session, owner: User | Team, channel: str, *, now: datetime, address: str = ""
) -> None:
    """A verified contact point on `channel` of a user (their demo e-mail address, unless
    `address` is given) or a team (`address`)."""
    user_id, team_id = (owner.id, None) if isinstance(owner, User) else (None, owner.id)
    if isinstance(owner, User):
        address = address or f"{owner.username}@{DEMO_MAIL_DOMAIN}"
    there = session.scalar(
        select(ContactPoint.id).where(
            ContactPoint.user_id == user_id if team_id is None else ContactPoint.team_id == team_id,
            ContactPoint.channel == channel,
            ContactPoint.address == address,
        )
    )
    if there is None:
        session.add(
            ContactPoint(
                user_id=user_id,
                team_id=team_id,
                channel=channel,
                address=address,
                position=0,
                verified=True,
                verified_at=now,
                created_at=now,
            )
        )


def ensure_demo_teams(session: Session, *, now: datetime) -> list[Team]:
    """One team per building and trade of the registered equipment, with the demo field
    staff in each (`tower-a-lifts`, `tower-a-plumbing`, …)."""
    pairs = session.execute(
        select(Equipment.building, Equipment.kind)
        .where(Equipment.in_inventory.is_(True))
        .distinct()
    ).all()
    wanted = sorted({(b, TRADE_OF_KIND[k]) for b, k in pairs if k in TRADE_OF_KIND})
    members = [u for u in (get_user(session, n) for n in DEMO_TEAM_MEMBERS) if u is not None]
    teams = []
    for building, trade in wanted:
        name = f"{building}-{trade.value}"[:64]
        team = session.scalar(select(Team).where(Team.name == name))
        if team is None:
            team = add_team(session, name, trade, now=now, building=building)
        for user in members:
            set_member(session, team, user, member=True)
        teams.append(team)
    return teams


# The demo rota: the technicians in turn, a day each; routine jobs told from 07:00 to 22:00.
DEMO_ROTA = {
    "rotation": "daily",
    "handover": "08:00",
    "members": ["tech1", "tech2"],
    "supervisor": "super1",
    "manager": "admin1",
    "routine": "hours",
    "hours_start": "07:00",
    "hours_end": "22:00",
    "work_days": [1, 2, 3, 4, 5, 6, 7],
}


def ensure_demo_rotas(session: Session, *, now: datetime, site_zone: str) -> list[Rota]:
    """A rota (`DEMO_ROTA`, from this week's Monday) for each demo team that has none."""
    monday = now.astimezone(ZoneInfo(site_zone)).date()
    monday -= timedelta(days=monday.weekday())
    spec = RotaIn.model_validate({**DEMO_ROTA, "starts_on": monday})
    rotas = []
    for team in ensure_demo_teams(session, now=now):
        found = rota_of(session, team)
        rotas.append(found or set_rota(session, team, spec, now=now, site_zone=site_zone))
    return rotas


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    role: Role
    token: str


def ensure_demo_users(
    session: Session, *, now: datetime, mail_channel: str | None = None
) -> list[Credential]:
    """Create the demo users if missing and give each a fresh token (older ones revoked), and
    the demo teams (`ensure_demo_teams`); with `mail_channel`, each user's demo e-mail address
    as a verified contact point on it."""
    out = []
    for username, role, display_name in DEMO_USERS:
        user = get_user(session, username)
        if user is None:
            user = add_user(session, username, role, now=now, display_name=display_name)
        else:
            revoke_tokens(session, user, now=now)
        if mail_channel is not None:
            ensure_demo_contact(session, user, mail_channel, now=now)
        out.append(
            Credential(username, user.role, issue_token(session, user, now=now, label="demo"))
        )
    out.append(ensure_demo_dispatcher(session, now=now))
    ensure_demo_teams(session, now=now)
    ensure_demo_contractor(session, now=now, mail_channel=mail_channel)
    return out


def ensure_demo_visit(session: Session, *, now: datetime, site_zone: str) -> PmSchedule | None:
    """The schedule of the lift contractor's half-monthly visit to the site's first lift, due
    within its lead (`DEMO_VISIT_PLAN`), if the plan has no schedule for that lift yet; None
    when there is no lift, or the schedule exists (the demo ran before)."""
    lift = session.scalar(
        select(Equipment)
        .where(Equipment.kind == "elevator", Equipment.in_inventory.is_(True))
        .order_by(Equipment.id)
        .limit(1)
    )
    if lift is None:
        return None
    there = session.scalar(
        select(PmSchedule.id).where(
            PmSchedule.plan_id == DEMO_VISIT_PLAN, PmSchedule.target == key(lift.site, lift.id)
        )
    )
    if there is not None:
        return None
    due = now.astimezone(ZoneInfo(site_zone)).date() + DEMO_VISIT_LEAD
    schedule = PmSchedule(
        plan_id=DEMO_VISIT_PLAN,
        target=key(lift.site, lift.id),  # as the PM scheduler names its targets
        equipment_id=lift.id,
        site=lift.site,
        building=lift.building,
        anchor=due - DEMO_VISIT_EVERY,
        next_due=due,
        meters={},
        updated_at=now,
    )
    session.add(schedule)
    session.flush()
    return schedule


def ensure_demo_contractor(
    session: Session, *, now: datetime, mail_channel: str | None = None
) -> Team:
    """The lift contractor's team (`DEMO_CONTRACTOR`, every building, its jobs signed off)
    with `lift1` in it and, with `mail_channel`, its service address as its contact point."""
    team = session.scalar(select(Team).where(Team.name == DEMO_CONTRACTOR))
    if team is None:
        team = add_team(session, DEMO_CONTRACTOR, Trade.LIFTS, now=now)
    team.contractor = True
    team.company = DEMO_CONTRACTOR_COMPANY
    team.sign_off_required = True
    for name in DEMO_CONTRACTOR_MEMBERS:
        user = get_user(session, name)
        if user is not None:
            set_member(session, team, user, member=True)
    if mail_channel is not None:
        ensure_demo_contact(session, team, mail_channel, now=now, address=DEMO_CONTRACTOR_ADDRESS)
    session.flush()
    return team


def ensure_demo_dispatcher(session: Session, *, now: datetime) -> Credential:
    """The service desk's demo account, `desk1` (dispatcher), with a fresh token."""
    user = get_user(session, "desk1")
    if user is None:
        user = add_user(session, "desk1", Role.DISPATCHER, now=now, display_name="Desk One")
    else:
        revoke_tokens(session, user, now=now)
    return Credential("desk1", user.role, issue_token(session, user, now=now, label="demo"))


def write_credentials(path: Path, credentials: list[Credential], api_url: str) -> None:
    """Write the demo credentials as JSON, readable by the owner only."""
    try:
        _write_private(path, credentials, api_url)
    except OSError as exc:
        raise ConfigError(
            f"PLANTROOM_DEMO_CREDENTIALS_PATH: cannot write {path}: {exc.strerror or exc}"
        ) from exc


def _write_private(path: Path, credentials: list[Credential], api_url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "users": [
            {"username": c.username, "role": c.role.value, "token": c.token} for c in credentials
        ],
        "api": api_url,
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
