"""The InfluxDB writer: gzip'd line protocol to the v1-compatible `/write` endpoint.

`/write?db=&rp=&precision=ms` is served by every InfluxDB line: 1.x natively, 2.x through
its DBRP mapping, 3.x Core directly. Credentials are a user and password (sent as HTTP Basic
auth, never in the query string) or a token (`Authorization: Token …`). `query` runs InfluxQL
on `/query`; `prepare` creates the database (and retention policy) when told to.

Outcomes of one write:

* 2xx: written.
* 400 / 422 (`partial write`, `unable to parse`, `field type conflict`, …): the lines the
  error names are rejected with its reason and the rest is written again. Writes are
  idempotent (same series and timestamp overwrite), so rewriting lines a partial write had
  already stored never duplicates them. When the error names no line, the batch is halved
  until each bad line stands alone.
* 413: the batch is halved.
* 5xx, 401, 403, 404, timeouts and connection errors: `InfluxUnavailable`; the caller
  retries with backoff and spills to the disk buffer meanwhile.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from plantroom.influx.errors import InfluxAuthError, InfluxError, InfluxUnavailable
from plantroom.influx.influxql import quote_ident
from plantroom.influx.lineprotocol import joined
from plantroom.influx.responses import NOT_ABOUT_LINES, error_text, excerpt, find_bad_lines
from plantroom.settings import InfluxSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where and as whom to write: the `influx_*` settings, whichever process holds them."""

    url: str
    database: str
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None
    create_database: bool = False

    @classmethod
    def from_settings(cls, settings: InfluxSettings) -> InfluxTarget:
        return cls(
            url=settings.influx_url,
            database=settings.influx_database,
            retention_policy=settings.influx_retention_policy,
            username=settings.influx_username,
            password=settings.influx_password.get_secret_value()
            if settings.influx_password
            else None,
            token=settings.influx_token.get_secret_value() if settings.influx_token else None,
            create_database=settings.influx_create_database,
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line InfluxDB refused, by its index in the batch, with InfluxDB's reason."""

    index: int
    line: str
    reason: str


@dataclass(slots=True)
class WriteReport:
    rejected: list[Rejected] = field(default_factory=list)
    requests: int = 0


class InfluxWriter:
    """One HTTP client to one InfluxDB, configured from the `influx_*` settings."""

    def __init__(
        self,
        target: InfluxTarget | InfluxSettings,
        *,
        timeout_s: float = 10.0,
        gzip_level: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if isinstance(target, InfluxSettings):
            target = InfluxTarget.from_settings(target)
        self._target = target
        self._gzip_level = gzip_level
        headers: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if target.token is not None:
            headers["Authorization"] = f"Token {target.token}"
        elif target.username is not None:
            # HTTP Basic rather than `?u=&p=`: a query string ends up in proxy and request logs
            auth = httpx.BasicAuth(target.username, target.password or "")
        self._write_params = {"db": target.database, "precision": "ms"}
        if target.retention_policy:
            self._write_params["rp"] = target.retention_policy
        self._client = httpx.AsyncClient(
            base_url=target.url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
        )
        self._prepared = not target.create_database
        self.last_latency_ms = 0.0

    @property
    def url(self) -> str:
        return self._target.url

    async def __aenter__(self) -> InfluxWriter:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- queries --------------------------------------------------------------------------

    def _auth_hint(self) -> str:
        return (
            "set PLANTROOM_INFLUX_USERNAME and PLANTROOM_INFLUX_PASSWORD (InfluxDB 1.x) or "
            "PLANTROOM_INFLUX_TOKEN (InfluxDB 2.x / 3.x)"
        )

    async def query(
        self, statement: str, *, database: str | None = None, post: bool = False
    ) -> dict[str, Any]:
        """Run InfluxQL on `/query`; returns the JSON answer (epoch milliseconds).

        Raises InfluxAuthError on 401/403, InfluxUnavailable when unreachable or 5xx,
        InfluxError when a statement fails.
        """
        params = {"q": statement, "epoch": "ms"}
        if database:
            params["db"] = database
        try:
            if post:
                resp = await self._client.post("/query", params=params)
            else:
                resp = await self._client.get("/query", params=params)
        except httpx.TransportError as exc:
            raise InfluxUnavailable(f"InfluxDB at {self.url} is unreachable: {exc!r}") from exc
        if resp.status_code == 401:
            raise InfluxAuthError(
                f"InfluxDB at {self.url} refused the credentials (HTTP 401: "
                f"{excerpt(error_text(resp.content))}); {self._auth_hint()}"
            )
        if resp.status_code == 403:
            raise InfluxAuthError(
                f"InfluxDB at {self.url} does not allow {' '.join(statement.split()[:2])} for "
                f"these credentials (HTTP 403: {excerpt(error_text(resp.content))}); use a "
                f"user or token with that right, or create the database yourself (and the "
                f"DBRP mapping on InfluxDB 2.x) and set PLANTROOM_INFLUX_CREATE_DATABASE=false"
            )
        if resp.status_code >= 500:
            raise InfluxUnavailable(
                f"InfluxDB at {self.url} failed {statement!r} (HTTP {resp.status_code}: "
                f"{excerpt(error_text(resp.content))})"
            )
        if resp.status_code >= 400:
            raise InfluxError(
                f"InfluxDB at {self.url} refused {statement!r} (HTTP {resp.status_code}: "
                f"{excerpt(error_text(resp.content))})"
            )
        data: dict[str, Any] = resp.json()
        for result in data.get("results", []):
            if isinstance(result, dict) and result.get("error"):
                raise InfluxError(f"InfluxDB refused {statement!r}: {result['error']}")
        return data

    async def prepare(self) -> None:
        """Create the database, and the retention policy if one is named (when configured).

        Raises InfluxAuthError when the credentials are refused, InfluxUnavailable when
        InfluxDB cannot be reached; any other refusal is logged and left to the writes.
        """
        if not self._target.create_database:
            self._prepared = True
            return
        db = self._target.database
        rp = self._target.retention_policy
        try:
            await self.query(f"CREATE DATABASE {quote_ident(db)}", post=True)
            if rp:
                shown = await self.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
                names = {
                    row[0]
                    for result in shown.get("results", [])
                    for series in result.get("series", [])
                    for row in series.get("values", [])
                }
                if rp not in names:
                    await self.query(
                        f"CREATE RETENTION POLICY {quote_ident(rp)} ON {quote_ident(db)} "
                        f"DURATION INF REPLICATION 1",
                        post=True,
                    )
                    log.info("created retention policy %r on database %r", rp, db)
        except (InfluxAuthError, InfluxUnavailable):
            raise
        except InfluxError as exc:
            log.warning(
                "could not create database %r (%s); writes will tell whether it exists. On "
                "InfluxDB 2.x / 3.x set PLANTROOM_INFLUX_CREATE_DATABASE=false",
                db,
                exc,
            )
        self._prepared = True

    # -- writes ---------------------------------------------------------------------------

    async def _post(self, lines: Sequence[str]) -> httpx.Response:
        body = gzip.compress(joined(lines), compresslevel=self._gzip_level, mtime=0)
        started = time.perf_counter()
        try:
            resp = await self._client.post(
                "/write",
                params=self._write_params,
                content=body,
                headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.RemoteProtocolError as exc:
            if "illegal header" not in str(exc):
                raise InfluxUnavailable(f"InfluxDB at {self.url} broke off: {exc!r}") from exc
            # InfluxDB 1.x echoes a refused line in a header; a control character in it makes
            # the response unreadable. The server did answer: treat it as a refusal.
            resp = httpx.Response(400, text="InfluxDB refused the write (unreadable response)")
        except httpx.TransportError as exc:
            raise InfluxUnavailable(f"InfluxDB at {self.url} is unreachable: {exc!r}") from exc
        self.last_latency_ms = (time.perf_counter() - started) * 1000.0
        return resp

    def _unavailable(self, resp: httpx.Response) -> InfluxUnavailable:
        why = excerpt(error_text(resp.content))
        status = resp.status_code
        if status in (401, 403):
            return InfluxUnavailable(
                f"InfluxDB at {self.url} refused the write (HTTP {status}: {why}); "
                f"{self._auth_hint()}, with write access to {self._target.database!r}"
            )
        if status == 404 or "not found" in why:
            self._prepared = not self._target.create_database
            return InfluxUnavailable(
                f"InfluxDB at {self.url} has no database/retention policy for the write (HTTP "
                f"{status}: {why}); create it (and the DBRP mapping on 2.x) or set "
                f"PLANTROOM_INFLUX_CREATE_DATABASE=true"
            )
        return InfluxUnavailable(f"InfluxDB at {self.url} failed the write (HTTP {status}: {why})")

    async def write(self, lines: Sequence[str]) -> WriteReport:
        """Write a batch; returns the lines InfluxDB rejected (everything else is stored).

        Raises InfluxUnavailable when the batch could not be written now.
        """
        report = WriteReport()
        if not lines:
            return report
        if not self._prepared:
            try:
                await self.prepare()
            except InfluxAuthError as exc:  # keep running and retrying; the log says what to set
                raise InfluxUnavailable(str(exc)) from exc
        pending: list[list[int]] = [list(range(len(lines)))]
        while pending:
            part = pending.pop()
            part_lines = [lines[i] for i in part]
            resp = await self._post(part_lines)
            report.requests += 1
            status = resp.status_code
            if 200 <= status < 300:
                continue
            if status == 413 and len(part) > 1:
                half = len(part) // 2
                pending += [part[half:], part[:half]]
                continue
            if status in (400, 413, 422):
                why = error_text(resp.content)
                if status != 413 and "unable to parse" not in why and NOT_ABOUT_LINES.search(why):
                    raise self._unavailable(resp)
                bad = find_bad_lines(resp.content, part_lines) if status != 413 else {}
                if bad:
                    for k, why in sorted(bad.items()):
                        report.rejected.append(Rejected(part[k], part_lines[k], why))
                    rest = [i for k, i in enumerate(part) if k not in bad]
                    if rest:
                        pending.append(rest)
                elif len(part) == 1:
                    reason = excerpt(why or f"HTTP {status}")
                    report.rejected.append(Rejected(part[0], part_lines[0], reason))
                else:
                    half = len(part) // 2
                    pending += [part[half:], part[:half]]
                continue
            raise self._unavailable(resp)
        return report
