"""Errors of the cloud service's own operations. Each carries a stable `code` for API clients;
`cloud.api.errors` maps the classes to HTTP statuses."""

from __future__ import annotations

from typing import Any

from plantroom.errors import PlantroomError


class CloudError(PlantroomError):
    code = "error"

    def __init__(
        self, message: str, *, code: str | None = None, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details  # structured facts of the error, e.g. the steps missing
        if code is not None:
            self.code = code


class InvalidInput(CloudError):
    code = "invalid_request"


class TooLarge(InvalidInput):
    code = "payload_too_large"


class Unauthorized(CloudError):
    code = "unauthorized"


class Forbidden(CloudError):
    code = "forbidden"


class NotFound(CloudError):
    code = "not_found"


class Conflict(CloudError):
    code = "conflict"


class Unavailable(CloudError):
    """Something the operation needs (e.g. the file store) does not answer: try again later."""

    code = "unavailable"
