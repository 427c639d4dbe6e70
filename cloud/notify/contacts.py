"""Each person's contact points: add, list, remove, and "send me a test" to verify one.

A new contact point is unverified and never used for jobs. "Send me a test" sends a six-digit
code through it; confirming the code within the code's lifetime (`PLANTROOM_NOTIFY_CODE_TTL_S`)
marks it verified. Wrong codes are counted: after `PLANTROOM_NOTIFY_CODE_MAX_TRIES` of them, or
once it expired, the code is void and only a new test message brings a new one. An
administrator may add one already verified (the site's own records, the demo).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloud.notify.channels import Channel, Style
from cloud.notify.model import ContactPoint
from cloud.notify.sender import Sender, SendFailed
from cloud.notify.templates import Rendered
from cloud.users.model import User

MAX_PER_USER = 10
MAX_ADDRESS = 256


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def check_address(channel: Channel, address: str) -> str:
    address = address.strip()
    if not address or len(address) > MAX_ADDRESS:
        raise InvalidInput(f"address: 1 to {MAX_ADDRESS} characters")
    if any(ch.isspace() for ch in address):
        raise InvalidInput(f"address: {address!r} has spaces in it")
    if channel.style is Style.EMAIL and address.count("@") != 1:
        raise InvalidInput(f"address: {address!r} is not an e-mail address")
    return address


def add(
    session: Session,
    user: User,
    channels: dict[str, Channel],
    *,
    channel: str,
    address: str,
    now: datetime,
    position: int | None = None,
    verified: bool = False,
) -> ContactPoint:
    spec = channels.get(channel)
    if spec is None:
        known = ", ".join(sorted(channels)) or "none configured"
        raise InvalidInput(f"channel: {channel!r} is not a configured channel ({known})")
    address = check_address(spec, address)
    points = list_for(session, user)
    if len(points) >= MAX_PER_USER:
        raise Conflict(f"{user.username} has {MAX_PER_USER} contact points already")
    if any(p.channel == channel and p.address == address for p in points):
        raise Conflict(f"{user.username} already has {channel} {address}")
    if position is None:
        position = 1 + (
            session.scalar(
                select(func.max(ContactPoint.position)).where(ContactPoint.user_id == user.id)
            )
            or 0
        )
    point = ContactPoint(
        user_id=user.id,
        channel=channel,
        address=address,
        position=position,
        verified=verified,
        verified_at=now if verified else None,
        created_at=now,
    )
    session.add(point)
    session.flush()
    return point


def list_for(session: Session, user: User) -> list[ContactPoint]:
    return list(
        session.scalars(
            select(ContactPoint)
            .where(ContactPoint.user_id == user.id)
            .order_by(ContactPoint.position, ContactPoint.id)
        )
    )


def get(session: Session, user: User, point_id: int) -> ContactPoint:
    point = session.get(ContactPoint, point_id)
    if point is None:
        raise NotFound(f"contact point {point_id} does not exist")
    if point.user_id != user.id:
        raise Forbidden(f"contact point {point_id} is not {user.username}'s")
    return point


def remove(session: Session, user: User, point_id: int) -> None:
    session.delete(get(session, user, point_id))


def send_test(
    session: Session,
    user: User,
    point_id: int,
    channels: dict[str, Channel],
    sender: Sender,
    *,
    now: datetime,
    ttl: timedelta,
) -> ContactPoint:
    """Send a verification code through the contact point; Conflict if the channel is not
    configured any more, InvalidInput with the channel's answer if the send failed. A new code
    replaces the last one and its count of wrong tries."""
    point = get(session, user, point_id)
    channel = channels.get(point.channel)
    if channel is None:
        raise Conflict(f"channel {point.channel!r} is no longer configured")
    code = f"{secrets.randbelow(1_000_000):06d}"
    minutes = max(1, round(ttl.total_seconds() / 60))
    text = (
        f"Plantroom 验证码 {code} {minutes} 分钟内有效"
        if user.language == "zh"
        else f"Your Plantroom code is {code} (valid {minutes} minutes)"
    )
    html = f"<p>{text}</p>" if channel.style is Style.EMAIL else text
    try:
        sender.send(
            channel,
            point.address,
            Rendered(title="Plantroom", body=html, html=channel.style is Style.EMAIL),
            f"<verify-{point.id}.{secrets.token_hex(6)}@plantroom>",
        )
    except SendFailed as exc:
        raise InvalidInput(f"the test message was not sent: {exc}") from exc
    point.code_hash = _hash(code)
    point.code_sent_at = now
    point.code_tries = 0
    return point


def confirm(
    session: Session,
    user: User,
    point_id: int,
    code: str,
    *,
    now: datetime,
    ttl: timedelta,
    max_tries: int,
) -> ContactPoint:
    """Mark the contact point verified if `code` is the one its last test carried.

    Refusals change the row too (the caller commits them before answering): a wrong code
    counts a try (InvalidInput, naming the tries left), the last allowed wrong try or an
    expired code voids the code (Conflict: send a new test)."""
    point = get(session, user, point_id)
    if point.code_hash is None or point.code_sent_at is None:
        raise Conflict("no code is waiting for this contact point; send a test first")
    if now - point.code_sent_at > ttl:
        point.code_hash = None
        raise Conflict("the code expired; send a new test")
    if not hmac.compare_digest(point.code_hash, _hash(code.strip())):
        point.code_tries += 1
        left = max_tries - point.code_tries
        if left <= 0:
            point.code_hash = None
            raise Conflict(
                f"code: wrong {point.code_tries} times, the code is void; send a new test"
            )
        raise InvalidInput(f"code: not the code that was sent ({left} tries left)")
    point.verified = True
    point.verified_at = now
    point.code_hash = None
    point.code_tries = 0
    return point
