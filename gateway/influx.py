"""The InfluxDB writer: gzip'd line protocol to the v1-compatible `/write` endpoint.

`/write?db=&rp=&precision=ms` is served by every InfluxDB line: 1.x natively, 2.x through
its DBRP mapping, 3.x Core directly. Credentials are user/password (`u`/`p` parameters) or a
token (`Authorization: Token …`).

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
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from gateway.lineprotocol import LineProtocolError, escape_field_key, field_type, joined, parse_line
from plantroom.errors import ConfigError, PlantroomError
from plantroom.settings import InfluxSettings

log = logging.getLogger(__name__)

ERROR_EXCERPT = 500


class InfluxError(PlantroomError):
    """InfluxDB answered in a way the gateway cannot act on."""


class InfluxUnavailable(InfluxError):
    """InfluxDB cannot take writes now (down, overloaded, misconfigured). Retry later."""


class InfluxAuthError(ConfigError):
    """InfluxDB refused the configured credentials. The message says what to set."""


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


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= ERROR_EXCERPT else text[:ERROR_EXCERPT] + "…"


def error_text(body: bytes | str) -> str:
    """The human-readable error of a response: 1.x `error`, 2.x `message`, or the raw text."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return text.strip()


# a 400 that is about the configuration, not about any line: retried, never dead-lettered
_NOT_ABOUT_LINES = re.compile(
    r"dbrp|bucket[^\n]*not found|database not found|retention policy not found|"
    r"precision|authoriz|unauthori[sz]ed",
    re.I,
)
_UNABLE_TO_PARSE = re.compile(
    r"unable to parse '(?P<line>.*?)': (?P<why>.*?)(?=\nunable to parse '| dropped=\d+|$)", re.S
)
_TYPE_CONFLICT = re.compile(
    r'field type conflict: input field "(?P<field>[^"]*)" on measurement "(?P<m>[^"]*)" '
    r"is type (?P<type>\w+), already exists as type (?P<existing>\w+)"
)


def find_bad_lines(body: bytes | str, lines: Sequence[str]) -> dict[int, str]:
    """The lines of a batch a 400/422 response names, as {index in `lines`: reason}.

    Understands InfluxDB 1.x and 2.x (`unable to parse '<line>': <why>`, `field type conflict:
    input field "f" on measurement "m" is type T …`) and 3.x (a `data` list of
    `original_line` / `line_number` / `error_message`). Returns {} when nothing is named.
    """
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    bad: dict[int, str] = {}
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        where.setdefault(line, []).append(i)

    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        numbered = not any("\n" in line for line in lines)
        for item in data["data"]:
            if not isinstance(item, dict):
                continue
            why = str(item.get("error_message") or data.get("error") or "rejected")
            original = item.get("original_line")
            number = item.get("line_number")
            if isinstance(original, str) and original in where:
                for i in where[original]:
                    bad[i] = why
            elif numbered and isinstance(number, int) and 1 <= number <= len(lines):
                bad[number - 1] = why
    message = error_text(text)

    for match in _UNABLE_TO_PARSE.finditer(message):
        for i in where.get(match["line"], ()):
            bad[i] = f"unable to parse: {match['why'].strip()}"

    for match in _TYPE_CONFLICT.finditer(message):
        key_text = escape_field_key(match["field"]) + "=" if match["field"] else ""
        reason = (
            f"field type conflict: {match['field']!r} on {match['m']!r} is "
            f"{match['type']}, InfluxDB already has it as {match['existing']}"
        )
        for i, line in enumerate(lines):
            if i in bad or not key_text or key_text not in line:
                continue
            try:
                parsed = parse_line(line)
            except LineProtocolError:
                continue
            value = parsed.fields.get(match["field"])
            if (
                parsed.measurement == match["m"]
                and value is not None
                and field_type(value) == match["type"]
            ):
                bad[i] = reason
    return bad


class InfluxWriter:
    """One HTTP client to one InfluxDB, configured from the `influx_*` settings."""

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        timeout_s: float = 10.0,
        gzip_level: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._gzip_level = gzip_level
        headers: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if settings.influx_token is not None:
            headers["Authorization"] = f"Token {settings.influx_token.get_secret_value()}"
        elif settings.influx_username is not None:
            # HTTP Basic rather than `?u=&p=`: a query string ends up in proxy and request logs
            password = (
                settings.influx_password.get_secret_value() if settings.influx_password else ""
            )
            auth = httpx.BasicAuth(settings.influx_username, password)
        self._write_params = {"db": settings.influx_database, "precision": "ms"}
        if settings.influx_retention_policy:
            self._write_params["rp"] = settings.influx_retention_policy
        self._client = httpx.AsyncClient(
            base_url=settings.influx_url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
        )
        self._prepared = not settings.influx_create_database
        self.last_latency_ms = 0.0

    @property
    def url(self) -> str:
        return self._settings.influx_url

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
                f"{_excerpt(error_text(resp.content))}); {self._auth_hint()}"
            )
        if resp.status_code == 403:
            raise InfluxAuthError(
                f"InfluxDB at {self.url} does not allow {' '.join(statement.split()[:2])} for "
                f"these credentials (HTTP 403: {_excerpt(error_text(resp.content))}); use a "
                f"user or token with that right, or create the database yourself (and the "
                f"DBRP mapping on InfluxDB 2.x) and set PLANTROOM_INFLUX_CREATE_DATABASE=false"
            )
        if resp.status_code >= 500:
            raise InfluxUnavailable(
                f"InfluxDB at {self.url} failed {statement!r} (HTTP {resp.status_code}: "
                f"{_excerpt(error_text(resp.content))})"
            )
        if resp.status_code >= 400:
            raise InfluxError(
                f"InfluxDB at {self.url} refused {statement!r} (HTTP {resp.status_code}: "
                f"{_excerpt(error_text(resp.content))})"
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
        if not self._settings.influx_create_database:
            self._prepared = True
            return
        db = self._settings.influx_database
        rp = self._settings.influx_retention_policy
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
        why = _excerpt(error_text(resp.content))
        status = resp.status_code
        if status in (401, 403):
            return InfluxUnavailable(
                f"InfluxDB at {self.url} refused the write (HTTP {status}: {why}); "
                f"{self._auth_hint()}, with write access to {self._settings.influx_database!r}"
            )
        if status == 404 or "not found" in why:
            self._prepared = not self._settings.influx_create_database
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
                if status != 413 and "unable to parse" not in why and _NOT_ABOUT_LINES.search(why):
                    raise self._unavailable(resp)
                bad = find_bad_lines(resp.content, part_lines) if status != 413 else {}
                if bad:
                    for k, why in sorted(bad.items()):
                        report.rejected.append(Rejected(part[k], part_lines[k], why))
                    rest = [i for k, i in enumerate(part) if k not in bad]
                    if rest:
                        pending.append(rest)
                elif len(part) == 1:
                    reason = _excerpt(why or f"HTTP {status}")
                    report.rejected.append(Rejected(part[0], part_lines[0], reason))
                else:
                    half = len(part) // 2
                    pending += [part[half:], part[:half]]
                continue
            raise self._unavailable(resp)
        return report
