"""Each person's contact points: add, list, remove, and "send me a test" to verify one.

A new contact point is unverified and never used for jobs. "Send me a test" sends a six-digit
code through it; confirming the code (within `CODE_TTL`) marks it verified. An administrator
may add one already verified (the site's own records, the demo).
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

CODE_TTL = timedelta(minutes=30)
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
) -> ContactPoint:
    """Send a verification code through the contact point; Conflict if the channel is not
    configured any more, InvalidInput with the channel's answer if the send failed."""
    point = get(session, user, point_id)
    channel = channels.get(point.channel)
    if channel is None:
        raise Conflict(f"channel {point.channel!r} is no longer configured")
    code = f"{secrets.randbelow(1_000_000):06d}"
    text = (
        f"Plantroom 验证码 {code} 30 分钟内有效"
        if user.language == "zh"
        else f"Your Plantroom code is {code} (valid 30 minutes)"
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
    return point


def confirm(
    session: Session, user: User, point_id: int, code: str, *, now: datetime
) -> ContactPoint:
    point = get(session, user, point_id)
    if point.code_hash is None or point.code_sent_at is None:
        raise Conflict("no code was sent to this contact point; send a test first")
    if now - point.code_sent_at > CODE_TTL:
        raise Conflict("the code expired; send a new test")
    if not hmac.compare_digest(point.code_hash, _hash(code.strip())):
        raise InvalidInput("code: not the code that was sent")
    point.verified = True
    point.verified_at = now
    point.code_hash = None
    return point
