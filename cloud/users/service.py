"""Users, their API tokens and teams.

Outside demo mode no user or secret exists until someone creates one (`create_user`, or an
admin through `/api/users`; the demo accounts are `cloud.users.demo`). A team is the
technicians of one trade (lifts, plumbing, electrical, fire) for one building, or for every
building; new jobs go to the team of their building and their equipment's trade.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from cloud.clock import Clock, utcnow
from cloud.db import Database
from cloud.enums import Role, Trade
from cloud.errors import Conflict, InvalidInput, existing
from cloud.paging import page, where_equal
from cloud.security import hash_password, hash_token, new_token
from cloud.sites import Sites
from cloud.siting import site_for
from cloud.users.contractors import check_member
from cloud.users.model import ApiToken, Team, TeamMember, User
from cloud.users.sites import (
    NARROWER,
    access_of,
    person_of_sites,
    set_sites,
    site_roles,
    team_of_sites,
)
from plantroom.settings import CloudSettings

# The token lifetime when none is given: the settings' default (PLANTROOM_TOKEN_TTL_DAYS).
DEFAULT_TOKEN_TTL = timedelta(days=CloudSettings.model_fields["token_ttl_days"].default)
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")
SELF = "me"  # `/api/users/me` is the caller's own profile: no user has that name
MIN_PASSWORD = 8


def token_ttl(settings: CloudSettings) -> timedelta:
    """How long a new token lasts: PLANTROOM_TOKEN_TTL_DAYS."""
    return timedelta(days=settings.token_ttl_days)


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def require_user(session: Session, username: str) -> User:
    """The person named; NotFound also for a person of none of the caller's sites."""
    sites = access_of(session).sites
    user = session.scalar(select(User).where(User.username == username, person_of_sites(sites)))
    return existing(user, f"user {username!r}")


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"role {role!r}: must be one of {roles}") from None


def _password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: use at least {MIN_PASSWORD} characters")
    return hash_password(password)


def add_user(
    session: Session,
    username: str,
    role: Role | str,
    *,
    now: datetime,
    display_name: str | None = None,
    password: str | None = None,
) -> User:
    if not USERNAME.match(username):
        raise InvalidInput(
            f"username {username!r}: use 1-64 lower-case letters, digits, '_', '.', '-'"
        )
    if username == SELF:
        raise InvalidInput(f"username {SELF!r}: reserved for one's own profile (/api/users/me)")
    role = _role(role)
    if get_user(session, username) is not None:
        raise Conflict(f"user {username!r} already exists", code="user_exists")
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        active=True,
        created_at=now,
        password_hash=_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session,
    user: User,
    *,
    now: datetime,
    role: Role | str | None = None,
    display_name: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change what is given. Deactivating a user revokes their tokens. A role is not changed
    to or from `contractor` while the user is in a team (the teams would not fit)."""
    if role is not None:
        new = _role(role)
        if new is not user.role and Role.CONTRACTOR in (new, user.role) and user.teams:
            raise Conflict(
                f"{user.username} is in {', '.join(t.name for t in user.teams)}: take them off "
                f"the team(s) before making them {new.value}",
                code="role_teams",
            )
        wider = {
            s: r.value for s, r in site_roles(session, user.id).items() if r not in NARROWER[new]
        }
        if wider:
            held = ", ".join(f"{r} at {s}" for s, r in sorted(wider.items()))
            raise Conflict(
                f"{user.username} is {held}, more than a {new.value} may be: change their sites"
                " first (PUT /api/users/{username}/sites)",
                code="role_sites",
            )
        user.role = new
    if display_name is not None:
        user.display_name = display_name or None
    if password is not None:
        user.password_hash = _password(password)
    if active is not None and active != user.active:
        user.active = active
        if not active:
            revoke_tokens(session, user, now=now)
    session.flush()
    return user


def list_users(
    session: Session, *, role: Role | None, active: bool | None, limit: int, offset: int
) -> tuple[list[User], int]:
    query = select(User).where(person_of_sites(access_of(session).sites))  # the caller's sites'
    if active is not None:
        query = query.where(User.active.is_(active))
    query = where_equal(query, (User.role, role))
    return page(session, query, User.username, limit=limit, offset=offset)


def issue_token(
    session: Session,
    user: User,
    *,
    now: datetime,
    ttl: timedelta | None = DEFAULT_TOKEN_TTL,
    label: str | None = None,
) -> str:
    """A new bearer token for `user`. Only its hash is stored: this is the one chance to see it."""
    token = new_token()
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            user_id=user.id,
            label=label,
            created_at=now,
            expires_at=None if ttl is None else now + ttl,
            revoked_at=None,
        )
    )
    session.flush()
    return token


def revoke_token(session: Session, token: str, *, now: datetime) -> bool:
    """Revoke one token (signing out); False if it was unknown or already revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


def revoke_tokens(session: Session, user: User, *, now: datetime) -> int:
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
    return len(tokens)


def authenticate(session: Session, token: str, *, now: datetime) -> User | None:
    """The active user a token belongs to, or None if unknown, expired or revoked."""
    row = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(token))
        .options(joinedload(ApiToken.user))
    )
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = row.user
    return user if user.active else None


# -- teams ------------------------------------------------------------------------------------


def get_team(session: Session, name: str) -> Team:
    """The team named; NotFound also for a team of none of the caller's sites."""
    sites = access_of(session).sites
    team = session.scalar(select(Team).where(Team.name == name, team_of_sites(sites)))
    return existing(team, f"team {name!r}")


def list_teams(
    session: Session, *, building: str | None = None, trade: Trade | None = None
) -> list[Team]:
    query = select(Team).where(team_of_sites(access_of(session).sites))  # the caller's sites'
    query = where_equal(query, (Team.building, building), (Team.trade, trade))
    return list(session.scalars(query.order_by(Team.name)).all())


def _trade(trade: Trade | str) -> Trade:
    try:
        return Trade(trade)
    except ValueError:
        trades = ", ".join(t.value for t in Trade)
        raise InvalidInput(f"trade {trade!r}: must be one of {trades}") from None


def add_team(
    session: Session,
    name: str,
    trade: Trade | str,
    *,
    now: datetime,
    building: str | None = None,
    buildings: set[str] | None = None,
) -> Team:
    """A new team; `buildings`, when given, are the buildings that exist."""
    if not USERNAME.match(name):
        raise InvalidInput(f"name {name!r}: use 1-64 lower-case letters, digits, '_', '.', '-'")
    if buildings is not None and building is not None and building not in buildings:
        known = ", ".join(sorted(buildings)) or "none"
        raise InvalidInput(f"building {building!r} is not in the inventory (known: {known})")
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"team {name!r} already exists", code="team_exists")
    site = None if building is None else site_for(session.connection(), None, building)
    team = Team(name=name, trade=_trade(trade), building=building, site=site, created_at=now)
    session.add(team)
    session.flush()
    return team


def set_member(session: Session, team: Team, user: User, *, member: bool) -> bool:
    """Add or remove a member; False if nothing changed. Contractors join contractor teams
    only, and contractor teams take only contractors (InvalidInput)."""
    row = session.get(TeamMember, (team.id, user.id))
    if member == (row is not None):
        return False
    if member:
        check_member(team, user)
        session.add(TeamMember(team_id=team.id, user_id=user.id))
    else:
        session.delete(row)
    session.flush()
    session.expire(team, ["members"])
    session.expire(user, ["teams"])
    return True


def _site_roles(given: Sequence[str], own: Role) -> dict[str, Role]:
    """`site` or `site:role` each, as site → role; InvalidInput naming a bad one."""
    out: dict[str, Role] = {}
    for item in given:
        site, _, role = item.partition(":")
        if not site or site in out:
            raise InvalidInput(f"--site {item!r}: give each site once, as SITE or SITE:ROLE")
        out[site] = _role(role) if role else own
    return out


def create_user(
    settings: CloudSettings,
    username: str,
    role: Role | str,
    *,
    display_name: str | None = None,
    password: str | None = None,
    clock: Clock = utcnow,
    sites: Sequence[str] = (),
) -> str:
    """Create a user in the configured database (migrating it first) and return a new token.
    `sites`: `site` or `site:role` (their own role when not given), the only sites they see
    (none: every site); each must be a site of the configured inventories."""
    db = Database(settings.database_url)
    try:
        db.migrate()
        with db.session() as session:
            now = clock()
            user = add_user(
                session, username, role, now=now, display_name=display_name, password=password
            )
            if sites:
                served = Sites.load(settings.inventory).served
                set_sites(session, user, _site_roles(sites, user.role), served=served)
            return issue_token(session, user, now=now, ttl=token_ttl(settings), label="created")
    finally:
        db.close()
