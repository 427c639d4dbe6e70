"""One error body for every failure: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.errors import (
    CloudError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from cloud.schemas import ErrorBody

STATUS: dict[type[CloudError], int] = {
    InvalidInput: 422,
    TooLarge: 413,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}

Responses = dict[int | str, dict[str, Any]]


def errors(described: Mapping[int, str]) -> Responses:
    """A route's error responses for OpenAPI: each status with what it means there, all with
    the one error body."""
    return {status: {"model": ErrorBody, "description": text} for status, text in described.items()}


# The error responses every authenticated route may give, for OpenAPI.
AUTH_RESPONSES = errors({401: "missing, unknown, expired or revoked token", 422: "invalid request"})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _status_of(exc: CloudError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def _cloud_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudError)
    headers = None
    if isinstance(exc, Unauthorized):
        challenge = 'Bearer error="invalid_token"' if exc.code == "invalid_token" else "Bearer"
        headers = {"WWW-Authenticate": challenge}
    return error_response(
        _status_of(exc), exc.code, exc.message, details=exc.details, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors())
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ())) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    details = [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    return error_response(
        422, "invalid_request", "; ".join(parts) or "invalid request", details=details
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(CloudError, _cloud_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
