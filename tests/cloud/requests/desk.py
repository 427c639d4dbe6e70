"""The service desk's test helpers: the app on tests/data/service-desk.yaml with the desk's
staff and teams, and the reporter's and the desk's calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from cloud.enums import Role
from cloud.requests.desk import ServiceDesk
from cloud.users.demo import ensure_demo_teams
from tests.cloud.harness import Api, Clock, serve, settings_for

STAFF = {
    "tech1": Role.TECHNICIAN,
    "tech2": Role.TECHNICIAN,
    "super1": Role.SUPERVISOR,
    "eng1": Role.ENGINEER,
    "desk1": Role.DISPATCHER,
}
REPORTER = {"name": "Li Wei", "phone": "+86 138 0013 8000"}


@asynccontextmanager
async def desk_app(
    tmp: Path, database_url: str | None = None, clock: Clock | None = None, **settings: Any
) -> AsyncIterator[Api]:
    """The app with the desk's staff signed in and a team per building and trade."""
    if database_url is not None:
        settings["database_url"] = database_url
    async with serve(settings_for(tmp, "service-desk", **settings), clock, users=STAFF) as api:
        with api.db.session() as session:
            ensure_demo_teams(session, now=api.clock())
        yield api


def desk(api: Api) -> ServiceDesk:
    found: ServiceDesk = api.app.state.desk
    return found


async def report(
    api: Api, code: str, what: str = "the light flickers", **form: Any
) -> httpx.Response:
    """A public report, without a token; `photo` (bytes) is sent as a file."""
    photo = form.pop("photo", None)
    data = {"code": code, "what": what, **REPORTER, **form}
    files = {"photo": ("photo.jpg", photo, "image/jpeg")} if photo is not None else None
    return await api.client.post("/api/public/requests", data=data, files=files)


async def track(api: Api, reference: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/public/requests/{reference}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def job(api: Api, number: str) -> dict[str, Any]:
    response = await api.get(f"/api/work-orders/{number}", "super1")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def act(
    api: Api, number: str, action: str, who: str = "tech1", note: str | None = None
) -> None:
    body = {"note": note} if note else None
    response = await api.post(f"/api/work-orders/{number}/{action}", who, json=body)
    assert response.status_code == 200, response.text


async def work_it(api: Api, number: str) -> None:
    """A technician takes the job, starts and resolves it."""
    await act(api, number, "acknowledge")
    await act(api, number, "start")
    await act(api, number, "resolve", note="replaced the driver")


def tick(api: Api) -> None:
    desk(api).tick()
