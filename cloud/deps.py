"""FastAPI dependencies: the service state, a database session and the calling user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from cloud.errors import Unauthorized
from cloud.models import User
from cloud.state import AppState
from cloud.users import authenticate


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.cloud
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session for one request. Routes that change something commit it themselves, before
    they answer, so that a failed commit is the answer."""
    with state.database().sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer <token>`")


def get_current_user(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>`", code="missing_token"
        )
    user = authenticate(session, credentials.credentials, now=state.clock())
    if user is None:
        raise Unauthorized("the token is unknown, expired or revoked", code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
