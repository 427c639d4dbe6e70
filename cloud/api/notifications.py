"""Contact points (each person's own; an administrator's for anyone), the messages' language,
and the outbox: what was sent to whom about a job, and how far it got."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.workorders import _id as visible_work_order
from cloud.deps import AdminUser, AnyUser, SessionDep, StateDep, answer, one_writer
from cloud.enums import Role
from cloud.errors import CloudError
from cloud.notify import contacts, outbox
from cloud.notify.model import OutboxMessage
from cloud.notify.outbound import Outbound
from cloud.notify.schemas import (
    AdminContactPointIn,
    ContactPointIn,
    ContactPointOut,
    LanguageIn,
    OutboxOut,
    VerifyIn,
)
from cloud.state import AppState
from cloud.users import service as users
from cloud.users.model import Team, User

ERRORS = errors(
    {
        403: "not the caller's, or the role does not allow it",
        404: "no such contact point, user or work order",
        409: "a duplicate, or no code to check (none sent, "
        "expired, or void after too many wrong codes)",
    }
)

router = APIRouter(tags=["notifications"], responses={**AUTH_RESPONSES, **ERRORS})

PointId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _outbound(request: Request) -> Outbound:
    found: Outbound = request.app.state.outbound
    return found


def _points(session: Session, user: User) -> list[ContactPointOut]:
    return [ContactPointOut.model_validate(p) for p in contacts.list_for(session, user)]


def _add_point(
    session: Session,
    owner: User,
    body: ContactPointIn,
    request: Request,
    state: AppState,
    *,
    verified: bool = False,
) -> Response:
    """Add `body`'s address to `owner`'s contact points and answer with it (201)."""
    point = contacts.add(
        session,
        owner,
        _outbound(request).channels,
        channel=body.channel,
        address=body.address,
        position=body.position,
        verified=verified,
        now=state.clock(),
    )
    return answer(session, ContactPointOut.model_validate(point), 201)


@router.get("/me/contact-points", response_model=list[ContactPointOut])
def my_contact_points(session: SessionDep, user: AnyUser) -> Response:
    """Where the caller is told about jobs, in the order tried (verified ones only)."""
    return answer(session, _points(session, user))


@router.post("/me/contact-points", response_model=ContactPointOut, status_code=201)
def add_my_contact_point(
    body: ContactPointIn, request: Request, state: StateDep, session: SessionDep, user: AnyUser
) -> Response:
    """Add an address on a configured channel; it is used once verified (send a test)."""
    with one_writer(session):
        return _add_point(session, user, body, request, state)


@router.delete("/me/contact-points/{point_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_my_contact_point(point_id: PointId, session: SessionDep, user: AnyUser) -> Response:
    with one_writer(session):
        contacts.remove(session, user, point_id)
        session.commit()
    return Response(status_code=204)


@router.post("/me/contact-points/{point_id}/test", response_model=ContactPointOut)
def send_me_a_test(
    point_id: PointId, request: Request, state: StateDep, session: SessionDep, user: AnyUser
) -> Response:
    """Send a six-digit code through the contact point; confirm it with `/verify`."""
    out = _outbound(request)
    with one_writer(session):
        point = contacts.send_test(
            session,
            user,
            point_id,
            out.channels,
            out.sender,
            now=state.clock(),
            ttl=timedelta(seconds=state.settings.notify_code_ttl_s),
        )
        return answer(session, ContactPointOut.model_validate(point))


@router.post("/me/contact-points/{point_id}/verify", response_model=ContactPointOut)
def verify_contact_point(
    point_id: PointId, body: VerifyIn, state: StateDep, session: SessionDep, user: AnyUser
) -> Response:
    """The code the test carried: the contact point is verified and used from now on. A wrong
    code is refused (422) and counted; the last allowed wrong code, or an expired one, voids
    it (409): send a new test."""
    s = state.settings
    with one_writer(session):
        try:
            point = contacts.confirm(
                session,
                user,
                point_id,
                body.code,
                now=state.clock(),
                ttl=timedelta(seconds=s.notify_code_ttl_s),
                max_tries=s.notify_code_max_tries,
            )
        except CloudError:
            session.commit()  # the wrong try counts, the void code stays void
            raise
        return answer(session, ContactPointOut.model_validate(point))


@router.put("/me/language", response_model=LanguageIn)
def set_my_language(body: LanguageIn, session: SessionDep, user: AnyUser) -> Response:
    """The language of the caller's messages: `en` or `zh` (Simplified Chinese)."""
    with one_writer(session):
        user.language = body.language
        user.language_chosen = True
        return answer(session, body)


@router.get("/users/{username}/contact-points", response_model=list[ContactPointOut])
def user_contact_points(username: str, session: SessionDep, user: AdminUser) -> Response:
    return answer(session, _points(session, users.require_user(session, username)))


@router.post("/users/{username}/contact-points", response_model=ContactPointOut, status_code=201)
def add_user_contact_point(
    username: str,
    body: AdminContactPointIn,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminUser,
) -> Response:
    """An administrator adds someone's contact point, verified if the site vouches for it."""
    with one_writer(session):
        owner = users.require_user(session, username)
        return _add_point(session, owner, body, request, state, verified=body.verified)


def masked(address: str) -> str:
    """An address shown to someone who may not see it: its first and last characters (and an
    e-mail's domain) kept, so a person still recognises their own."""
    local, at, domain = address.partition("@")
    if len(local) <= 2:
        return f"{'*' * len(local)}{at}{domain}"
    return f"{local[0]}{'*' * (len(local) - 2)}{local[-1]}{at}{domain}"


def _outbox_out(session: Session, rows: list[OutboxMessage], viewer: User) -> list[OutboxOut]:
    """The rows as the viewer may see them: other people's addresses (in the row and in its
    last error) masked unless the viewer is a supervisor or an admin."""
    ids = {r.user_id for r in rows if r.user_id is not None}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
    team_ids = {r.team_id for r in rows if r.team_id is not None}
    teams = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
    sees_all = viewer.role in (Role.SUPERVISOR, Role.ADMIN)
    out = []
    for r in rows:
        update: dict[str, object] = {
            "username": names.get(r.user_id) if r.user_id is not None else None,
            "team": teams.get(r.team_id) if r.team_id is not None else None,
        }
        if not sees_all and r.user_id != viewer.id and r.address:
            hidden = masked(r.address)
            update["address"] = hidden
            if r.last_error:
                update["last_error"] = r.last_error.replace(r.address, hidden)
        out.append(OutboxOut.model_validate(r).model_copy(update=update))
    return out


@router.get("/notifications/outbox", response_model=list[OutboxOut])
def outbox_of(
    session: SessionDep,
    user: AnyUser,
    work_order: Annotated[str, Query(min_length=1, max_length=32, examples=["WO-000042"])],
) -> Response:
    """The messages about one job (id or number): to whom, on which channel, and their
    status (queued, sending, sent, failed, acknowledged) with the last error."""
    rows = outbox.for_work_order(session, visible_work_order(session, work_order, user))
    return answer(session, _outbox_out(session, rows, user))


@router.get("/work-orders/{ref}/notifications", response_model=list[OutboxOut])
def work_order_notifications(ref: str, session: SessionDep, user: AnyUser) -> Response:
    """The same, as part of the job: the messages it sent."""
    rows = outbox.for_work_order(session, visible_work_order(session, ref, user))
    return answer(session, _outbox_out(session, rows, user))
