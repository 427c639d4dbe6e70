"""schemathesis against the cloud API's own OpenAPI document.

Every operation gets schema-conforming (positive) and schema-violating (negative) requests,
sent as an admin to the app on a temporary SQLite database, in one process: httpx's
ASGI transport on an event loop in a blocking portal thread, inside the app's lifespan, so a
server exception reaches the test with its traceback. Checks: no server error, the response
conforms to the documented schema, the status code is a documented one. Every finding is
collected, so one
run reports all of them, each with its request and traceback.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from cloud.app import create_app
from cloud.enums import Role
from cloud.users.service import add_user, get_user, issue_token
from plantroom.settings import CloudSettings
from tests.fuzz.budget import examples
from tests.harness import write_site

# Server-sent events never end a response; the endpoint is left to its own tests.
STREAMING = {("GET", "/api/events")}
CHECKS = [not_a_server_error, response_schema_conformance]
# Status codes every route can answer that the OpenAPI document does not list: 400 for a body
# that is not JSON and 404 for an unknown id (see docs/fuzzing.md). They are counted, not
# failed; any other undocumented status is a finding.
APP_WIDE_UNDOCUMENTED = {400, 404}
EXAMPLES_PER_MODE = 8


@dataclass
class Finding:
    operation: str
    request: str
    problem: str

    def __str__(self) -> str:
        return f"{self.operation}\n  request: {self.request}\n  {self.problem}"


def make_app(tmp: Path) -> FastAPI:
    write_site(tmp / "site.yaml", "pump-and-lift")
    settings = CloudSettings(
        inventory=tmp / "site.yaml",
        database_url=f"sqlite:///{tmp}/db/cloud.sqlite",
        demo_credentials_path=tmp / "demo" / "credentials.json",
    )
    return create_app(settings, ingest=False, escalate=False, notify=False)


def admin_token(app: FastAPI) -> str:
    """A fresh admin token (a fuzzed logout or revoke may have ended the last one)."""
    database = app.state.cloud.database()
    now = datetime.now(UTC)
    with database.session() as session:
        user = get_user(session, "fuzz-admin")
        if user is None:
            user = add_user(session, "fuzz-admin", Role.ADMIN, now=now, display_name="Fuzz")
        token: str = issue_token(session, user, now=now)
    return token


def request_text(kwargs: dict[str, Any]) -> str:
    body = kwargs.get("json", kwargs.get("data", ""))
    return f"{kwargs['method']} {kwargs['url']} params={kwargs.get('params')} body={body!r:.300}"


class Client:
    """A synchronous face on an async httpx client, for hypothesis' synchronous tests."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            request = self._client.build_request(method, url, **kwargs)
            await request.aread()  # a multipart body too, so that checks can show it
            return await self._client.send(request)

        return self._portal.call(call)


@contextmanager
def serving(app: FastAPI) -> Iterator[Client]:
    """The app's lifespan and a client for it, on one event loop in a thread of its own."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        with portal.wrap_async_context_manager(client):
            yield Client(portal, client)


def form_part(part: Any) -> Any:
    """A multipart field as httpx takes it: schemathesis may generate a number or null as a
    field's content, which a browser would send as its text."""
    if isinstance(part, tuple) and len(part) >= 2 and not isinstance(part[1], bytes | str):
        return (part[0], json.dumps(part[1]), *part[2:])
    return part


def send(client: Client, kwargs: dict[str, Any]) -> httpx.Response:
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), bytes | str):
        body["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        body["data"] = kwargs["data"]
    if kwargs.get("files"):
        body["files"] = [(name, form_part(part)) for name, part in kwargs["files"]]
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params") or None,
        headers=kwargs.get("headers"),
        **body,
    )


def fuzz_operation(
    client: Client,
    app: FastAPI,
    operation: Any,
    mode: GenerationMode,
    undocumented: Counter[tuple[str, int]],
) -> Iterator[Finding]:
    name = f"{operation.method.upper()} {operation.path} ({mode.value})"
    findings: list[Finding] = []
    token = admin_token(app)
    spec = app.openapi()["paths"][operation.path][operation.method.lower()]
    documented = {int(code) for code in spec["responses"] if code.isdigit()}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples(EXAMPLES_PER_MODE),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        try:
            response = send(client, kwargs)
        except Exception:
            findings.append(Finding(name, request_text(kwargs), traceback.format_exc(limit=-4)))
            return
        status = response.status_code
        if status not in documented:
            if status in APP_WIDE_UNDOCUMENTED:
                undocumented[(operation.path, status)] += 1
            else:
                findings.append(
                    Finding(name, request_text(kwargs), f"undocumented status {status}")
                )
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as exc:  # schemathesis' Failure and FailureGroup
            findings.append(
                Finding(
                    name,
                    request_text(kwargs),
                    f"{response.status_code} {response.text[:300]}\n  {exc}",
                )
            )
        except BaseExceptionGroup as group:
            findings.append(
                Finding(
                    name,
                    request_text(kwargs),
                    f"{response.status_code} {response.text[:300]}\n  {group!r}",
                )
            )

    try:
        run()
    except Unsatisfiable:
        # nothing in the operation can be made invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, name
    return iter(findings)


def test_every_operation_survives_schemathesis_without_server_errors(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document is invalid: {result}"
        operations.append(result.ok())
    fuzzed = [op for op in operations if (op.method.upper(), op.path) not in STREAMING]
    assert len(fuzzed) >= 40, [op.path for op in operations]
    findings: list[Finding] = []
    undocumented: Counter[tuple[str, int]] = Counter()
    with serving(app) as client:
        for operation in fuzzed:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                findings.extend(fuzz_operation(client, app, operation, mode, undocumented))
    if findings:
        unique: dict[tuple[str, str], Finding] = {}
        for finding in findings:
            unique.setdefault((finding.operation, finding.problem.splitlines()[0]), finding)
        pytest.fail(
            f"{len(findings)} failing requests, {len(unique)} distinct:\n\n"
            + "\n\n".join(str(f) for f in unique.values())
        )
