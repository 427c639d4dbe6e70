"""Who am I, and a token for a username and password."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import CurrentUser, SessionDep, StateDep
from cloud.errors import Unauthorized
from cloud.schemas import ErrorBody, LoginIn, TokenOut, UserRef
from cloud.security import verify_password
from cloud.users import DEFAULT_TOKEN_TTL, get_user, issue_token

router = APIRouter(tags=["auth"], responses=AUTH_RESPONSES)


@router.get("/me", response_model=UserRef)
def me(user: CurrentUser) -> UserRef:
    ref = UserRef.of(user)
    assert ref is not None
    return ref


@router.post("/auth/token", response_model=TokenOut, responses={401: {"model": ErrorBody}})
def login(body: LoginIn, state: StateDep, session: SessionDep) -> TokenOut:
    """Exchange a username and password for a new API token (users that have a password)."""
    user = get_user(session, body.username)
    if (
        user is None
        or not user.active
        or user.password_hash is None
        or not verify_password(body.password, user.password_hash)
    ):
        raise Unauthorized("unknown user or wrong password", code="invalid_credentials")
    now = state.clock()
    token = issue_token(session, user, now=now, label="login")
    session.commit()
    ref = UserRef.of(user)
    assert ref is not None
    return TokenOut(token=token, expires_at=now + DEFAULT_TOKEN_TTL, user=ref)
