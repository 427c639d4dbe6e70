"""Webhooks: each work-order event POSTed as JSON to every configured URL, signed.

The body is signed with HMAC-SHA256 under the shared secret:

    X-Plantroom-Signature: sha256=<hex digest of the raw body>
    X-Plantroom-Event: work_order.acknowledge
    X-Plantroom-Delivery: <event id>   (the same on a retry: deduplicate on it)

A receiver recomputes the digest over the bytes it received and compares in constant time
(`verify`). A 2xx answer is delivered; a timeout, connection error, 408, 429 or 5xx is tried
again with backoff; any other answer is a permanent refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from cloud.notify.events import Outgoing
from cloud.notify.pump import Permanent, Retryable

SIGNATURE_HEADER = "X-Plantroom-Signature"
EVENT_HEADER = "X-Plantroom-Event"
DELIVERY_HEADER = "X-Plantroom-Delivery"
RETRY_STATUSES = frozenset({408, 425, 429})


def encode(event: Outgoing) -> bytes:
    return json.dumps(event.body(), separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: True if `header` is the signature of `body` under `secret`."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookSink:
    """Delivers events to one URL, one at a time, in order."""

    batch = 1

    def __init__(self, url: str, secret: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self.name = f"webhook {url}"
        self._secret = secret
        self._client = client

    def wants(self, event: Outgoing) -> bool:
        return True

    async def deliver(self, events: list[Outgoing]) -> None:
        for event in events:
            body = encode(event)
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self._secret, body),
                EVENT_HEADER: f"work_order.{event.action}",
                DELIVERY_HEADER: str(event.event_id),
                "User-Agent": "plantroom-cloud",
            }
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise Retryable(f"{type(exc).__name__}: {exc}") from exc
            status = response.status_code
            if 200 <= status < 300:
                continue
            reason = f"HTTP {status} for event {event.event_id} ({event.number})"
            if status >= 500 or status in RETRY_STATUSES:
                raise Retryable(reason)
            raise Permanent(reason)
