"""Signed, expiring, single-person links that open a job and acknowledge it.

A message's link is `<public url>/ack/<token>`: the token is the outbox row, the person, the
job, the row's one-time id (`jti`) and an expiry, signed with HMAC-SHA256
(itsdangerous) under `PLANTROOM_NOTIFY_LINK_SECRET`. Checking it, in order:

    bad signature or shape          403 link_invalid
    past its expiry                 410 link_expired
    its row gone or another jti     403 link_invalid
    already used once               410 link_used
    the job taken by someone else   403 link_not_yours

The expiry is checked against the service's clock, so it is testable on simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from cloud.errors import CloudError, Forbidden

SALT = "plantroom.ack-link.v1"
MAX_TOKEN = 512  # characters; a longer token is refused unread


class Gone(CloudError):
    """The link was good once: it expired, or it was used."""

    code = "gone"


@dataclass(frozen=True, slots=True)
class LinkClaim:
    outbox_id: int
    user_id: int
    work_order_id: int
    jti: str
    expires: int  # epoch seconds


class LinkSigner:
    def __init__(self, secret: str, *, ttl_s: float, base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the link secret must be at least 16 characters")
        self._signer = URLSafeSerializer(secret, salt=SALT)
        self.ttl_s = ttl_s
        self.base_url = base_url.rstrip("/")

    def token(self, claim: LinkClaim) -> str:
        return str(
            self._signer.dumps(
                [claim.outbox_id, claim.user_id, claim.work_order_id, claim.jti, claim.expires]
            )
        )

    def link(
        self, *, outbox_id: int, user_id: int, work_order_id: int, jti: str, now: datetime
    ) -> str:
        expires = int(now.timestamp() + self.ttl_s)
        claim = LinkClaim(outbox_id, user_id, work_order_id, jti, expires)
        return f"{self.base_url}/ack/{self.token(claim)}"

    def check(self, token: str, *, now: datetime) -> LinkClaim:
        """The claim of a good, unexpired token; Forbidden or Gone saying why not."""
        if len(token) > MAX_TOKEN:
            raise Forbidden("this link is not valid (too long)", code="link_invalid")
        try:
            data = self._signer.loads(token)
        except BadSignature as exc:
            raise Forbidden(
                "this link is not valid: it was changed or not made by this service",
                code="link_invalid",
            ) from exc
        if (
            not isinstance(data, list)
            or len(data) != 5
            or not all(isinstance(v, int) for v in (data[0], data[1], data[2], data[4]))
            or not isinstance(data[3], str)
        ):
            raise Forbidden("this link is not valid (its contents)", code="link_invalid")
        claim = LinkClaim(data[0], data[1], data[2], data[3], data[4])
        if now.timestamp() > claim.expires:
            expired = datetime.fromtimestamp(claim.expires, now.tzinfo).isoformat()
            raise Gone(f"this link expired at {expired}", code="link_expired")
        return claim
