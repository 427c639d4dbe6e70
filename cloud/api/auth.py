"""Who am I, tokens (sign in with a password, sign out) and my notifications."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import func, select, update

from cloud.api.errors import AUTH_RESPONSES
from cloud.api.language import reader
from cloud.api.params import Limit, Offset
from cloud.api.users import profile_of
from cloud.deps import AnyUser, IdPath, SessionDep, StateDep, TokenDep, answer, as_json
from cloud.errors import NotFound, Unauthorized
from cloud.locale import Text
from cloud.paging import page
from cloud.schemas import ErrorBody
from cloud.security import verify_nobody, verify_password
from cloud.sla.sentences import sentence
from cloud.users.schemas import LoginIn, ProfileOut, RevokedOut, TokenOut, UserRef
from cloud.users.service import get_user, issue_token, revoke_token, token_ttl
from cloud.workorders.model import Notification
from cloud.workorders.schemas import MarkedOut, NotificationOut, NotificationPage

router = APIRouter(tags=["auth"], responses=AUTH_RESPONSES)


@router.get("/me", response_model=UserRef)
async def me(user: AnyUser) -> Response:
    """Async: the caller is known once the token is, so there is nothing to wait for."""
    return as_json(UserRef.model_validate(user))


@router.get("/me/profile", response_model=ProfileOut)
def profile(state: StateDep, session: SessionDep, user: AnyUser) -> Response:
    """The caller with their teams, their language and the site's time zone."""
    return answer(session, profile_of(state, user))


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={
        401: {"model": ErrorBody},
        429: {"model": ErrorBody, "description": "too many failed logins; see Retry-After"},
    },
)
def login(body: LoginIn, request: Request, state: StateDep, session: SessionDep) -> Response:
    """Exchange a username and password for a new API token (users that have a password).

    Failed logins are throttled per username and per client address: after a few, each one
    more blocks further tries for a doubling delay (429 with Retry-After)."""
    throttle = state.login_throttle
    keys = throttle.keys(body.username, request.client.host if request.client else None)
    wait = throttle.retry_after(keys)
    if wait > 0:
        seconds = math.ceil(wait)
        raise HTTPException(
            429,
            f"too many failed logins; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    user = get_user(session, body.username)
    if user is None or not user.active or user.password_hash is None:
        ok = verify_nobody(body.password)  # the same work, so timing tells nothing
    else:
        ok = verify_password(body.password, user.password_hash)
    if not ok or user is None:
        throttle.failed(keys)
        raise Unauthorized("unknown user or wrong password", code="invalid_credentials")
    throttle.succeeded(body.username)
    now = state.clock()
    ttl = token_ttl(state.settings)
    token = issue_token(session, user, now=now, ttl=ttl, label="login")
    session.commit()
    ref = UserRef.model_validate(user)
    return answer(session, TokenOut(token=token, expires_at=now + ttl, user=ref))


@router.post("/auth/logout", response_model=RevokedOut)
def logout(state: StateDep, session: SessionDep, user: AnyUser, token: TokenDep) -> Response:
    """Revoke the token this request was made with."""
    revoked = revoke_token(session, token, now=state.clock())
    session.commit()
    return answer(session, RevokedOut(revoked=int(revoked)))


def shown(row: Notification, text: Text) -> NotificationOut:
    """`row` with its sentence written in `text`'s language from its facts; as stored (in
    English) when it has none (a row from before they were kept) or they are not what its
    kind keeps."""
    out = NotificationOut.model_validate(row)
    if row.facts is None:
        return out
    try:
        return out.model_copy(update={"message": sentence(row.kind, row.facts, text)})
    except (KeyError, TypeError, ValueError):
        return out


@router.get("/me/notifications", response_model=NotificationPage)
def notifications(
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    unread: Annotated[bool, Query(description="only those not yet marked read")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Dispatches, escalations and digests sent to the caller, newest first, each in the
    caller's language."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    rows, total = page(session, query, Notification.id.desc(), limit=limit, offset=offset)
    unread_count = (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )
    text = reader(state, user)
    return answer(
        session,
        NotificationPage(
            items=[shown(n, text) for n in rows],
            total=total,
            unread=unread_count,
            limit=limit,
            offset=offset,
        ),
    )


@router.post(
    "/me/notifications/{notification_id}/read",
    response_model=NotificationOut,
    responses={404: {"model": ErrorBody}},
)
def mark_read(
    notification_id: IdPath,
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
) -> Response:
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"notification {notification_id} does not exist")
    if row.read_at is None:
        row.read_at = state.clock()
    session.commit()
    return answer(session, shown(row, reader(state, user)))


@router.post("/me/notifications/read", response_model=MarkedOut)
def mark_all_read(state: StateDep, session: SessionDep, user: AnyUser) -> Response:
    """Mark every notification read; `marked` is how many were unread."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=state.clock())
    )
    session.commit()
    return answer(session, MarkedOut(marked=int(getattr(result, "rowcount", 0) or 0)))
