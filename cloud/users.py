"""Users and their API tokens, and the demo accounts.

Outside demo mode no user or secret exists until someone creates one (`create_user`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.clock import Clock, utcnow
from cloud.db import Database
from cloud.enums import Role
from cloud.errors import Conflict, InvalidInput
from cloud.models import ApiToken, User
from cloud.security import hash_password, hash_token, new_token
from plantroom.errors import ConfigError
from plantroom.settings import CloudSettings

DEFAULT_TOKEN_TTL = timedelta(days=90)
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("tech1", Role.TECHNICIAN, "Tech One"),
    ("tech2", Role.TECHNICIAN, "Tech Two"),
    ("super1", Role.SUPERVISOR, "Super One"),
)


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


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
    try:
        role = Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"role {role!r}: must be one of {roles}") from None
    if get_user(session, username) is not None:
        raise Conflict(f"user {username!r} already exists", code="user_exists")
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        active=True,
        created_at=now,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


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


def revoke_tokens(session: Session, user: User, *, now: datetime) -> int:
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
    return len(tokens)


def authenticate(session: Session, token: str, *, now: datetime) -> User | None:
    """The active user a token belongs to, or None if unknown, expired or revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = row.user
    return user if user.active else None


def create_user(
    settings: CloudSettings,
    username: str,
    role: Role | str,
    *,
    display_name: str | None = None,
    password: str | None = None,
    clock: Clock = utcnow,
) -> str:
    """Create a user in the configured database (migrating it first) and return a new token."""
    db = Database(settings.database_url)
    try:
        db.migrate()
        with db.session() as session:
            now = clock()
            user = add_user(
                session, username, role, now=now, display_name=display_name, password=password
            )
            return issue_token(session, user, now=now, label="created")
    finally:
        db.close()


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    role: Role
    token: str


def ensure_demo_users(session: Session, *, now: datetime) -> list[Credential]:
    """Create the demo users if missing and give each a fresh token (older ones revoked)."""
    out = []
    for username, role, display_name in DEMO_USERS:
        user = get_user(session, username)
        if user is None:
            user = add_user(session, username, role, now=now, display_name=display_name)
        else:
            revoke_tokens(session, user, now=now)
        out.append(
            Credential(username, user.role, issue_token(session, user, now=now, label="demo"))
        )
    return out


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
