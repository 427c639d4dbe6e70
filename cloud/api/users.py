"""Users and teams. Admins manage them; supervisors (who assign jobs) may read them; a
contractor reads their own teams only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy.orm import Session, object_session

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.params import Limit, Offset, TeamName
from cloud.deps import (
    AdminUser,
    AnyUser,
    OfficeUser,
    SessionDep,
    StateDep,
    answer,
    one_writer,
)
from cloud.enums import Role, Trade
from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.notify.outbound import Outbound
from cloud.state import AppState
from cloud.users import contractors
from cloud.users import service as users
from cloud.users.model import Team, User
from cloud.users.schemas import (
    ContractorFields,
    NewUserOut,
    ProfileOut,
    ProfilePatch,
    RevokedOut,
    TeamContact,
    TeamIn,
    TeamList,
    TeamOut,
    TeamPatch,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPage,
    UserPatch,
    UserRef,
)
from cloud.users.sites import EVERY_SITE, access_of

T = TypeVar("T")

ERRORS = errors(
    {
        403: "the caller's role does not allow it",
        404: "no such user or team",
        409: "the name is taken, or the change is refused",
    }
)

router = APIRouter(tags=["users"], responses={**AUTH_RESPONSES, **ERRORS})

Username = Annotated[str, Path(min_length=1, max_length=64, examples=["tech1"])]


def _out(session: SessionDep, user: User) -> UserOut:
    return UserOut.model_validate(user)


def _named(find: Callable[[Session, str], T], session: Session, name: str, field: str) -> T:
    """A team or user named in a request body: one that does not exist is a bad request."""
    try:
        return find(session, name)
    except NotFound as exc:
        raise InvalidInput(f"{field}: {exc.message}") from exc


def _buildings(state: AppState) -> set[str]:
    return state.sites.buildings()


def profile_of(state: AppState, user: User) -> ProfileOut:
    """The caller's own profile: the user, and the site's time zone they see times in."""
    user_out = UserOut.model_validate(user)
    session = object_session(user)
    access = EVERY_SITE if session is None else access_of(session)
    seen = [s for s in state.served_sites if access.sees(s)] or [state.inventory.site.id]
    zone = state.sites.get(seen[0]).site.timezone  # the first of their sites'
    return ProfileOut(**user_out.model_dump(), time_zone=zone)


@router.get("/users", response_model=UserPage)
def list_users(
    session: SessionDep,
    caller: OfficeUser,
    role: Annotated[Role | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Users by username (supervisors and admins)."""
    rows, total = users.list_users(session, role=role, active=active, limit=limit, offset=offset)
    return answer(
        session,
        UserPage(items=[_out(session, u) for u in rows], total=total, limit=limit, offset=offset),
    )


@router.post("/users", response_model=NewUserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, state: StateDep, session: SessionDep, caller: AdminUser) -> Response:
    """Create a user (admins), optionally with a password, teams and a first token."""
    now = state.clock()
    user = users.add_user(
        session,
        body.username,
        body.role,
        now=now,
        display_name=body.display_name,
        password=body.password,
    )
    for name in body.teams:
        users.set_member(session, _named(users.get_team, session, name, "teams"), user, member=True)
    token = (
        users.issue_token(
            session, user, now=now, ttl=users.token_ttl(state.settings), label="admin"
        )
        if body.token
        else None
    )
    session.commit()
    return answer(
        session, NewUserOut(user=_out(session, user), token=token), status.HTTP_201_CREATED
    )


@router.get("/users/{username}", response_model=UserOut)
def get_user(username: Username, session: SessionDep, caller: OfficeUser) -> Response:
    return answer(session, _out(session, users.require_user(session, username)))


@router.patch("/users/me", response_model=ProfileOut)
def update_me(
    body: ProfilePatch, state: StateDep, session: SessionDep, caller: AnyUser
) -> Response:
    """Change one's own profile (anyone signed in): the language of the console and of one's
    messages. `chosen: false` records the browser's language until the person picks one, and
    does not replace a language the person chose."""
    with one_writer(session):
        if body.chosen or not caller.language_chosen:
            caller.language = body.language
            caller.language_chosen = caller.language_chosen or body.chosen
        return answer(session, profile_of(state, caller))


@router.patch("/users/{username}", response_model=UserOut)
def update_user(
    username: Username,
    body: UserPatch,
    state: StateDep,
    session: SessionDep,
    caller: AdminUser,
) -> Response:
    """Change a user's role, name, password or whether they may sign in (admins).
    Deactivating revokes every token of theirs."""
    user = users.require_user(session, username)
    if user.id == caller.id and (body.active is False or body.role not in (None, Role.ADMIN)):
        raise Conflict("admins may not deactivate or demote themselves", code="self_change")
    users.update_user(
        session,
        user,
        now=state.clock(),
        role=body.role,
        display_name=body.display_name,
        active=body.active,
        password=body.password,
    )
    session.commit()
    return answer(session, _out(session, user))


@router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(
    username: Username, state: StateDep, session: SessionDep, caller: AdminUser
) -> Response:
    """Deactivate a user and revoke their tokens (admins). The user stays in the audit
    trails of the jobs they worked on; reactivate with PATCH `{"active": true}`."""
    user = users.require_user(session, username)
    if user.id == caller.id:
        raise Conflict("admins may not delete themselves", code="self_change")
    users.update_user(session, user, now=state.clock(), active=False)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{username}/tokens", response_model=TokenOut, status_code=201)
def new_token(
    username: Username,
    state: StateDep,
    session: SessionDep,
    caller: AdminUser,
    body: TokenIn | None = None,
) -> Response:
    """Issue a token for a user (admins): shown once, only its hash is kept."""
    body = body or TokenIn()
    user = users.require_user(session, username)
    if not user.active:
        raise Conflict(f"user {username!r} is deactivated", code="user_inactive")
    now = state.clock()
    ttl = timedelta(days=body.ttl_days) if body.ttl_days else users.token_ttl(state.settings)
    token = users.issue_token(session, user, now=now, ttl=ttl, label=body.label or "admin")
    session.commit()
    ref = UserRef.model_validate(user)
    return answer(
        session, TokenOut(token=token, expires_at=now + ttl, user=ref), status.HTTP_201_CREATED
    )


@router.post("/users/{username}/revoke-tokens", response_model=RevokedOut)
def revoke_tokens(
    username: Username, state: StateDep, session: SessionDep, caller: AdminUser
) -> Response:
    """Revoke every token of a user (admins)."""
    user = users.require_user(session, username)
    count = users.revoke_tokens(session, user, now=state.clock())
    session.commit()
    return answer(session, RevokedOut(revoked=count))


# -- teams ------------------------------------------------------------------------------------


def _team_out(session: Session, team: Team) -> TeamOut:
    points = contractors.team_contacts(session, team)
    return TeamOut.model_validate(team).model_copy(
        update={"contacts": [TeamContact.model_validate(p) for p in points]}
    )


def _terms(
    request: Request, state: AppState, session: Session, team: Team, body: TeamPatch
) -> None:
    """Set the team's contractor terms: `body`'s over what the team has (an in-house team
    again keeps none of them)."""
    contractor = body.contractor if body.contractor is not None else team.contractor
    keep = contractor  # what is not given is kept only while the team stays a contractor's
    if body.contacts is not None:
        contacts = [contractors.Contact(c.channel, c.address) for c in body.contacts]
    elif keep:
        contacts = [
            contractors.Contact(c.channel, c.address) for c in _team_out(session, team).contacts
        ]
    else:
        contacts = []
    terms = contractors.ContractorTerms(
        contractor=contractor,
        company=body.company
        if "company" in body.model_fields_set
        else team.company
        if keep
        else None,
        contacts=contacts,
        sign_off_required=(
            body.sign_off_required
            if body.sign_off_required is not None
            else keep and team.sign_off_required
        ),
        language=body.language or (team.language if keep else "en"),
    )
    outbound: Outbound = request.app.state.outbound
    contractors.set_terms(session, team, terms, channels=outbound.channels, now=state.clock())


def _visible(session: Session, caller: User, team: Team) -> Team:
    """A contractor reads their own teams only: another team is not found."""
    mine = contractors.visible_teams(session, caller)
    if mine is not None and team.id not in mine:
        raise NotFound(f"team {team.name!r} does not exist")
    return team


@router.get("/teams", response_model=TeamList)
def list_teams(
    session: SessionDep,
    caller: AnyUser,
    building: Annotated[str | None, Query()] = None,
    trade: Annotated[Trade | None, Query()] = None,
) -> Response:
    """Teams by name, with their members (anyone signed in; a contractor: their own)."""
    rows = users.list_teams(session, building=building, trade=trade)
    mine = contractors.visible_teams(session, caller)
    if mine is not None:
        rows = [t for t in rows if t.id in mine]
    return answer(session, TeamList(items=[_team_out(session, t) for t in rows], total=len(rows)))


@router.post("/teams", response_model=TeamOut, status_code=status.HTTP_201_CREATED)
def create_team(
    body: TeamIn, request: Request, state: StateDep, session: SessionDep, caller: AdminUser
) -> Response:
    """A team of one trade for one building (or every building), with members (admins); or
    an outside contractor's (`contractor`, its `company`, the `contacts` its jobs are told
    to, whether its jobs need `sign_off_required`), whose members are contractors."""
    team = users.add_team(
        session,
        body.name,
        body.trade,
        now=state.clock(),
        building=body.building,
        buildings=_buildings(state),
    )
    if body.contractor or body.model_fields_set & set(ContractorFields.model_fields):
        _terms(
            request,
            state,
            session,
            team,
            TeamPatch.model_validate(body.model_dump(include=set(ContractorFields.model_fields))),
        )
    for username in body.members:
        member = _named(users.require_user, session, username, "members")
        users.set_member(session, team, member, member=True)
    session.commit()
    return answer(
        session, _team_out(session, users.get_team(session, team.name)), status.HTTP_201_CREATED
    )


@router.get("/teams/{name}", response_model=TeamOut)
def get_team(name: TeamName, session: SessionDep, caller: AnyUser) -> Response:
    return answer(
        session, _team_out(session, _visible(session, caller, users.get_team(session, name)))
    )


@router.patch("/teams/{name}", response_model=TeamOut)
def update_team(
    name: TeamName,
    body: TeamPatch,
    request: Request,
    state: StateDep,
    session: SessionDep,
    caller: AdminUser,
) -> Response:
    """Change a team's contractor terms (admins): `contacts` replaces its contact points;
    `contractor: false` makes it an in-house team again (its contact points removed)."""
    team = users.get_team(session, name)
    _terms(request, state, session, team, body)
    session.commit()
    return answer(session, _team_out(session, users.get_team(session, name)))


@router.delete("/teams/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_team(name: TeamName, session: SessionDep, caller: AdminUser) -> Response:
    """Remove a team (admins); its jobs keep their history and lose the routing."""
    session.delete(users.get_team(session, name))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _membership(name: str, username: str, session: SessionDep, *, member: bool) -> Response:
    team = users.get_team(session, name)
    users.set_member(session, team, users.require_user(session, username), member=member)
    session.commit()
    return answer(session, _team_out(session, users.get_team(session, name)))


@router.put("/teams/{name}/members/{username}", response_model=TeamOut)
def add_member(
    name: TeamName, username: Username, session: SessionDep, caller: AdminUser
) -> Response:
    return _membership(name, username, session, member=True)


@router.delete("/teams/{name}/members/{username}", response_model=TeamOut)
def remove_member(
    name: TeamName, username: Username, session: SessionDep, caller: AdminUser
) -> Response:
    return _membership(name, username, session, member=False)
