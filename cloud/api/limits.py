"""A request-body limit for every route, enforced before the body is read.

Pure ASGI middleware, outside everything that reads a body:

* a `Content-Length` over the route's limit is answered `413` at once, and the body is never
  read (the server then closes the connection rather than drain it);
* a body without a length (chunked) is counted as it arrives, and the moment it passes the
  limit reading stops and the request ends in `413` (raised as an HTTPException from the
  body stream, which FastAPI passes through to the app's error handler).

The limit is `PLANTROOM_API_MAX_BODY_BYTES` (1 MiB) for every path, unless the path starts
with a prefix of the upload table (`BodyLimits.prefixes`), which holds larger limits for
routes that take files. A prefix may hold `*` for one path segment or more
(`/api/work-orders/*/photos`). The longest matching prefix wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plantroom.settings import CloudSettings

# Routes that take uploads, by path prefix: they have PLANTROOM_API_MAX_UPLOAD_BYTES.
UPLOAD_PREFIXES: tuple[str, ...] = (
    "/api/work-orders/*/photos",
    "/api/work-orders/*/sign-off",
    "/api/public/requests",  # a report's photo
)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    default: int
    prefixes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: CloudSettings) -> BodyLimits:
        upload = settings.api_max_upload_bytes
        return cls(settings.api_max_body_bytes, dict.fromkeys(UPLOAD_PREFIXES, upload))

    def for_path(self, path: str) -> int:
        best, limit = -1, self.default
        for prefix, value in self.prefixes.items():
            if fnmatchcase(path, prefix + "*") and len(prefix) > best:
                best, limit = len(prefix), value
        return limit


def _message(limit: int) -> str:
    return f"the request body is larger than this endpoint's limit of {limit} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope.get("path", ""))
        length = _content_length(scope)
        if length is not None and length > limit:
            await self._refuse(send, limit)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _message(limit))
            return message

        await self.app(scope, bounded, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = json.dumps(
            {"error": {"code": "payload_too_large", "message": _message(limit)}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
