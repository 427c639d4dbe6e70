"""Errors of the cloud service's own operations. Each carries a stable `code` for API clients;
`cloud.api.errors` maps the classes to HTTP statuses."""

from __future__ import annotations

from typing import Any, TypeVar

from plantroom.errors import PlantroomError

T = TypeVar("T")


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


def existing(found: T | None, what: str) -> T:
    """`found`, or NotFound saying that `what` (`work order 42`) does not exist."""
    if found is None:
        raise NotFound(f"{what} does not exist")
    return found
