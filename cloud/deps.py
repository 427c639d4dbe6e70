"""FastAPI dependencies: the service state, a database session and the calling user.

A verified token is remembered for `TOKEN_CACHE_S` seconds, so most requests are authenticated
without the database and without a trip through the thread pool. What that costs: a token
revoked, or a user deactivated or given another role, other sites or another language, by
another process (another API worker, the CLI) is still honoured by this one for at most
`TOKEN_CACHE_S` seconds. Changes made in this process take effect at once (every commit that
touches a user, their sites or a token empties the cache), and an expiry time is checked on
every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, make_transient_to_detached

from cloud.db import sqlite_writer
from cloud.enums import Role
from cloud.errors import Forbidden, Unauthorized
from cloud.security import hash_token
from cloud.state import AppState
from cloud.users.model import ApiToken, User, UserSite
from cloud.users.service import authenticate
from cloud.users.sites import SiteAccess, bind, site_roles

TOKEN_CACHE_S = 5.0  # the longest another process's revocation may go unnoticed here
TOKEN_CACHE_SIZE = 4096  # tokens remembered at most; the oldest are forgotten first

T = TypeVar("T")


async def get_state(request: Request) -> AppState:
    """Async: nothing to wait for, so no trip through the thread pool."""
    state: AppState = request.app.state.cloud
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def app_attribute(kind: type[T], name: str) -> Any:
    """A dependency giving the long-lived `kind` kept as `app.state.<name>` (made in the
    lifespan), for `Annotated[kind, app_attribute(kind, name)]`."""

    def get(request: Request) -> T:
        found = getattr(request.app.state, name)
        if not isinstance(found, kind):
            raise TypeError(f"app.state.{name} is {type(found).__name__}, not {kind.__name__}")
        return found

    return Depends(get)


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


@dataclass(frozen=True, slots=True)
class _Verified:
    user: User  # detached and never changed: a copy is merged into each request's session
    expires_at: datetime | None
    sites: dict[str, Role]  # the user's role per site (cloud.users.sites); empty: every site
    until: float  # time.monotonic() after which the token is checked again


class TokenCache:
    """Tokens verified recently, by database and SHA-256 of the token (see the module)."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_S, size: int = TOKEN_CACHE_SIZE) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._entries: dict[tuple[str, str], _Verified] = {}
        self._lock = threading.Lock()
        # Bumped by `clear`: a lookup that began before a change is not remembered after it.
        self.generation = 0

    def get(self, key: tuple[str, str]) -> _Verified | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.until <= time.monotonic():
                del self._entries[key]
                return None
            return entry

    def put(
        self,
        key: tuple[str, str],
        user: User,
        expires_at: datetime | None,
        generation: int,
        sites: dict[str, Role] | None = None,
    ) -> None:
        """Remember `user` for the token, unless users or tokens changed since the lookup
        began (at `generation`)."""
        copy = User(
            id=user.id,
            username=user.username,
            role=user.role,
            display_name=user.display_name,
            password_hash=user.password_hash,
            active=user.active,
            created_at=user.created_at,
            # what the answers are written in: read by most routes, so not loaded again
            language=user.language,
            language_chosen=user.language_chosen,
        )
        make_transient_to_detached(copy)
        entry = _Verified(copy, expires_at, dict(sites or {}), time.monotonic() + self.ttl_s)
        with self._lock:
            if generation != self.generation:
                return
            self._entries.pop(key, None)
            while len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = entry

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


tokens = TokenCache()


def _auth_changed(session: Session, _flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User | ApiToken | UserSite):
            session.info["auth_changed"] = True
            return


def _forget_tokens(session: Session) -> None:
    if session.info.pop("auth_changed", False):
        tokens.clear()


def _forget_flag(session: Session, _previous: Any = None) -> None:
    session.info.pop("auth_changed", None)


event.listen(Session, "after_flush", _auth_changed)
event.listen(Session, "after_commit", _forget_tokens)
event.listen(Session, "after_soft_rollback", _forget_flag)


def _verify(
    session: Session, token: str, now: datetime
) -> tuple[User, datetime | None, dict[str, Role]] | None:
    """On a worker thread: the token's user, expiry and sites, from the database."""
    user = authenticate(session, token, now=now)
    expires_at = session.scalar(
        select(ApiToken.expires_at).where(ApiToken.token_hash == hash_token(token))
    )
    sites = {} if user is None else site_roles(session, user.id)
    # End the read: the connection goes back to the pool rather than being held while the
    # request waits for a thread to run its route. (Holding it there lets requests that
    # hold connections wait on threads that wait on connections.) The user stays loaded.
    session.commit()
    return None if user is None else (user, expires_at, sites)


async def get_current_user(
    request: Request,
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """Async: a token verified in the last `TOKEN_CACHE_S` seconds needs neither the database
    nor a thread; any other is looked up on a worker thread."""
    if credentials is None:
        raise Unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>`", code="missing_token"
        )
    token = credentials.credentials
    key = (str(session.get_bind().engine.url), hash_token(token))
    now = state.clock()
    cached = tokens.get(key)
    if cached is not None:
        if cached.expires_at is not None and cached.expires_at <= now:
            raise Unauthorized("the token is unknown, expired or revoked", code="invalid_token")
        request.state.site_roles = cached.sites
        bind(session, SiteAccess(cached.sites, request.state))
        return session.merge(cached.user, load=False)
    generation = tokens.generation
    found = await to_thread.run_sync(_verify, session, token, now)
    if found is None:
        raise Unauthorized("the token is unknown, expired or revoked", code="invalid_token")
    user, expires_at, sites = found
    tokens.put(key, user, expires_at, generation, sites)
    request.state.site_roles = sites
    bind(session, SiteAccess(sites, request.state))
    return user


# Anyone signed in, contractors too: for the routes that show a contractor their own team's
# jobs (and their own profile), each of which scopes what it shows (`cloud.users.contractors`).
AnyUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: AnyUser) -> User:
    """Anyone signed in but a contractor: a route is closed to contractors unless it says
    otherwise (`AnyUser`, or `require` naming the role)."""
    if user.role is Role.CONTRACTOR:
        raise Forbidden(
            "the contractor role may not do this (contractors see their own team's jobs only)"
        )
    return user


CurrentUser = Annotated[User, Depends(get_staff_user)]


def require(*roles: Role) -> Callable[[Request, User], Awaitable[User]]:
    """A dependency: the calling user, if their role is one of `roles` (and, for a person
    of some sites only, their role at one of them); else 403. The request's sites are then
    those where their role is one of `roles` (`cloud.users.sites.access_of`)."""
    allowed = ", ".join(sorted(r.value for r in roles))

    async def check(request: Request, user: AnyUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"the {user.role.value} role may not do this (allowed: {allowed})")
        request.state.route_roles = roles
        site_roles: dict[str, Role] = getattr(request.state, "site_roles", {})
        if site_roles and not any(r in roles for r in site_roles.values()):
            held = ", ".join(f"{r.value} at {s}" for s, r in sorted(site_roles.items()))
            raise Forbidden(f"{held}: no site where you may do this (allowed: {allowed})")
        return user

    return check


# a row's id in a path: a positive BIGINT
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]

# `?site=`: one of the caller's sites only (`SiteAccess.narrow`)
SiteQuery = Annotated[
    str | None, Query(max_length=64, description="one site's only (one of the caller's sites)")
]

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
    return as_json(body, status_code)


def as_json(body: BaseModel | Sequence[BaseModel], status_code: int = 200) -> Response:
    """`body` as a JSON answer, serialised once by pydantic (a route's return value is
    otherwise validated against its response model and serialised again, on a worker thread
    when the route is sync)."""
    if isinstance(body, BaseModel):
        content = body.model_dump_json(by_alias=True)
    else:
        content = "[" + ",".join(item.model_dump_json(by_alias=True) for item in body) + "]"
    return Response(content, status_code=status_code, media_type="application/json")


_SQLITE_WRITER = threading.Lock()


@contextmanager
def one_writer(session: Session) -> Iterator[None]:
    """On SQLite, one write transaction at a time: threads and processes queue on a lock
    (`cloud.db.SqliteWriter`) and are woken at once, rather than polling SQLite's write lock
    in sleeps of up to 100 ms. Other databases take concurrent writers as they come. Hold it
    within one route, around the change and its commit (`answer`)."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        yield
        return
    writer = sqlite_writer(engine) if isinstance(engine, Engine) else None
    if writer is None:  # an engine not opened by `Database`: this process's threads only
        with _SQLITE_WRITER:
            yield
        return
    with writer.hold():
        yield
