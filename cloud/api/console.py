"""The technician console: its static files at `/`, the live event stream, and the history
of one point of one piece of equipment from InfluxDB for the console's charts.

`install(app)` adds all of it to the cloud app.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from cloud import registry
from cloud.api import console_app, events
from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.deps import CurrentUser, SessionDep, SiteQuery, StateDep
from cloud.equipment import Equipment
from cloud.errors import InvalidInput
from cloud.state import AppState
from plantroom.influx.influxql import quote_ident, quote_string
from plantroom.settings import InfluxSettings

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
MAX_BUCKETS = 288  # points in a chart: 5-minute means over 24 hours
MAX_HOURS = 168
INFLUX_TIMEOUT_S = 5.0
POINT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")  # as plantroom.schema's PointName

# The console's page only loads its own files and talks only to this service.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "manifest-src 'self'; worker-src 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class HistoryPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    t: int = Field(description="start of the bucket, epoch milliseconds")
    v: float = Field(description="mean of the bucket; for an on/off point its last state, 1 or 0")


class HistoryOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    equipment_id: str
    point: str
    hours: int
    interval_s: int = Field(description="width of one bucket")
    value_type: Literal["number", "state"] | None = Field(
        description="number: means of a measurement; state: an on/off point as 1/0; "
        "null when nothing was found"
    )
    points: list[HistoryPoint]
    message: str | None = Field(description="why `points` is empty, when it is")


def bucket_seconds(hours: int) -> int:
    return max(60, math.ceil(hours * 3600 / MAX_BUCKETS))


@dataclass(frozen=True, slots=True)
class Target:
    """What a history query needs to know about a piece of equipment."""

    id: str
    site: str
    kind: str

    @classmethod
    def of(cls, e: Equipment) -> Target:
        return cls(id=e.id, site=e.site, kind=e.kind)


class InfluxQueryError(Exception):
    """InfluxDB could not answer; the message says why, for the console to show."""


class HistoryReader:
    """Reads one point's recent history with InfluxQL on InfluxDB's v1 `/query` endpoint."""

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        timeout_s: float = INFLUX_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._timeout = timeout_s
        self._transport = transport

    def _client(self) -> httpx.Client:
        s = self._settings
        headers: dict[str, str] = {}
        params: dict[str, str] = {"db": s.influx_database, "epoch": "ms"}
        if s.influx_token is not None:
            headers["Authorization"] = f"Token {s.influx_token.get_secret_value()}"
        elif s.influx_username is not None:
            params["u"] = s.influx_username
            params["p"] = s.influx_password.get_secret_value() if s.influx_password else ""
        return httpx.Client(
            base_url=s.influx_url.rstrip("/"),
            headers=headers,
            params=params,
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 2.0)),
            transport=self._transport,
        )

    def _query(self, client: httpx.Client, statement: str) -> list[dict[str, Any]]:
        url = self._settings.influx_url
        try:
            resp = client.get("/query", params={"q": statement})
        except httpx.HTTPError as exc:
            raise InfluxQueryError(f"InfluxDB at {url} is unreachable ({exc})") from exc
        if resp.status_code in (401, 403):
            raise InfluxQueryError(
                f"InfluxDB at {url} refused the cloud service's credentials "
                f"(HTTP {resp.status_code}); check PLANTROOM_INFLUX_USERNAME/PASSWORD or TOKEN"
            )
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400 or not isinstance(body, dict):
            raise InfluxQueryError(
                f"InfluxDB at {url} answered HTTP {resp.status_code}: {resp.text.strip()[:200]}"
            )
        results = body.get("results") or [{}]
        first = results[0] if isinstance(results[0], dict) else {}
        if first.get("error"):
            raise InfluxQueryError(f"InfluxDB at {url}: {first['error']}")
        series: list[dict[str, Any]] = first.get("series") or []
        return series

    def _measurement(self, kind: str) -> str:
        s = self._settings
        if s.influx_retention_policy:
            return (
                f"{quote_ident(s.influx_database)}.{quote_ident(s.influx_retention_policy)}."
                f"{quote_ident(kind)}"
            )
        return quote_ident(kind)

    def read(self, equipment: Target, point: str, hours: int) -> HistoryOut:
        interval = bucket_seconds(hours)

        def empty(message: str) -> HistoryOut:
            return HistoryOut(
                equipment_id=equipment.id,
                point=point,
                hours=hours,
                interval_s=interval,
                value_type=None,
                points=[],
                message=message,
            )

        if not self._settings.influx_url.strip():
            return empty("InfluxDB is not configured (PLANTROOM_INFLUX_URL is empty)")
        measurement = self._measurement(equipment.kind)
        try:
            with self._client() as client:
                types = {
                    row[0]: row[1]
                    for serie in self._query(client, f"SHOW FIELD KEYS FROM {measurement}")
                    for row in serie.get("values") or []
                }
                field_type = types.get(point)
                if field_type is None:
                    return empty(
                        f"InfluxDB has no {point!r} values for any {equipment.kind} "
                        f"(database {self._settings.influx_database!r})"
                    )
                if field_type == "string":
                    return empty(f"{point!r} holds text; only numbers and on/off can be charted")
                state = field_type == "boolean"
                aggregate = "last" if state else "mean"
                statement = (
                    f"SELECT {aggregate}({quote_ident(point)}::field) AS v FROM {measurement} "
                    f"WHERE {quote_ident('site')}::tag = {quote_string(equipment.site)} "
                    f"AND {quote_ident('equipment')}::tag = {quote_string(equipment.id)} "
                    f"AND time > now() - {hours}h "
                    f"GROUP BY time({interval}s) fill(none)"
                )
                series = self._query(client, statement)
        except InfluxQueryError as exc:
            log.warning("history of %s.%s: %s", equipment.id, point, exc)
            return empty(str(exc))
        points = []
        for serie in series:
            for t, v in serie.get("values") or []:
                if v is None:
                    continue
                points.append(HistoryPoint(t=int(t), v=float(v)))
        return HistoryOut(
            equipment_id=equipment.id,
            point=point,
            hours=hours,
            interval_s=interval,
            value_type="state" if state else "number",
            points=points,
            message=None if points else f"no {point!r} samples in the last {hours} h",
        )


router = APIRouter(prefix="/equipment", tags=["console"], responses=AUTH_RESPONSES)


@router.get(
    "/{equipment_id}/history",
    response_model=HistoryOut,
    responses=errors({404: "no such equipment"}),
)
def history(
    equipment_id: str,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    point: Annotated[str, Query(max_length=64, description="a point name, e.g. `pressure`")],
    hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24,
    site: SiteQuery = None,
) -> HistoryOut:
    """The last `hours` of one point from InfluxDB, in at most 288 buckets. When InfluxDB is
    not configured or cannot answer, `points` is empty and `message` says why."""
    if not POINT_NAME.match(point):
        raise InvalidInput(
            f"point {point!r}: a point name is a lower-case letter, then letters, digits or '_'"
        )
    target = Target.of(registry.get(session, equipment_id, site))
    session.rollback()  # hold no database transaction while InfluxDB answers
    return HistoryReader(state.settings).read(target, point, hours)


class ConsoleFiles(StaticFiles):
    """The console's files, each with the page's security headers (CSP, nosniff, …)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


def index() -> FileResponse:
    return FileResponse(CONSOLE_DIR / "index.html", headers=PAGE_HEADERS)


@asynccontextmanager
async def _close_streams(app: FastAPI) -> AsyncIterator[None]:
    yield
    broadcaster: events.Broadcaster = app.state.events
    await broadcaster.aclose()


lifespan_router = APIRouter(lifespan=_close_streams)


def install(app: FastAPI) -> events.Broadcaster:
    """Serve the console at `/` (its files under `/console/`), the event stream at
    `/api/events`, the history at `/api/equipment/{id}/history`, and the installable app's
    service worker, manifest and icons (cloud/api/console_app.py). Returns the event
    broadcaster (also `app.state.events`), which anything in the service may `notify`."""
    state: AppState = app.state.cloud
    broadcaster = events.Broadcaster(state.database)
    app.state.events = broadcaster
    app.include_router(router, prefix="/api")
    app.include_router(events.router, prefix="/api")
    app.include_router(lifespan_router)
    app.add_api_route("/", index, methods=["GET", "HEAD"], include_in_schema=False)
    console_app.install(app, CONSOLE_DIR, PAGE_HEADERS)
    app.mount("/console", ConsoleFiles(directory=CONSOLE_DIR), name="console")
    return broadcaster
