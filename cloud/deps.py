"""FastAPI dependencies: the service state, a database session and the calling user."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cloud.enums import Role
from cloud.errors import Forbidden, Unauthorized
from cloud.models import User
from cloud.state import AppState
from cloud.users import authenticate


async def get_state(request: Request) -> AppState:
    """Async: nothing to wait for, so no trip through the thread pool."""
    state: AppState = request.app.state.cloud
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """A session for one request. Routes that change something commit it themselves, before
    they answer, so that a failed commit is the answer.

    Async so that closing it (giving its connection back to the pool) never waits for a
    thread: under load every thread may be waiting for a connection, and the connections
    would be waiting for a thread to be given back."""
    session = state.database().sessions()
    try:
        yield session
    finally:
        session.close()


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
    # End the read: the connection goes back to the pool rather than being held while the
    # request waits for a thread to run its route. (Holding it there lets requests that
    # hold connections wait on threads that wait on connections.) The user stays loaded.
    session.commit()
    if user is None:
        raise Unauthorized("the token is unknown, expired or revoked", code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: Role) -> Callable[[User], User]:
    """A dependency: the calling user, if their role is one of `roles`; else 403."""
    allowed = ", ".join(sorted(r.value for r in roles))

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"the {user.role.value} role may not do this (allowed: {allowed})")
        return user

    return check


AdminUser = Annotated[User, Depends(require(Role.ADMIN))]
OfficeUser = Annotated[User, Depends(require(Role.SUPERVISOR, Role.ADMIN))]


def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token the request came with (authenticated by `CurrentUser`)."""
    if credentials is None:
        raise Unauthorized("missing bearer token", code="missing_token")
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


def answer(
    session: Session, body: BaseModel | Sequence[BaseModel], status_code: int = 200
) -> Response:
    """End the request's transaction and answer with `body` as JSON.

    The connection goes back to the pool before the answer is written, and the answer is
    already JSON, so FastAPI has nothing left to do on a worker thread (a sync route's
    answer is otherwise validated again on one, while its session still holds a connection:
    under load, threads wait for connections that wait for threads)."""
    session.commit()
    if isinstance(body, BaseModel):
        content = body.model_dump_json(by_alias=True)
    else:
        content = "[" + ",".join(item.model_dump_json(by_alias=True) for item in body) + "]"
    return Response(content, status_code=status_code, media_type="application/json")


_SQLITE_WRITER = threading.Lock()


@contextmanager
def one_writer(session: Session) -> Iterator[None]:
    """On SQLite, one write transaction at a time in this process: threads queue on a lock
    and are woken at once, rather than polling SQLite's write lock in millisecond sleeps.
    Other databases take concurrent writers as they come. Hold it within one route, around
    the change and its commit (`answer`)."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _SQLITE_WRITER:
        yield
