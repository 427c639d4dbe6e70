"""The InfluxDB writer's handling of answers, against a scripted HTTP transport."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plantroom.influx.errors import InfluxAuthError, InfluxUnavailable
from plantroom.influx.responses import error_text, find_bad_lines
from plantroom.influx.writer import InfluxWriter
from plantroom.settings import InfluxSettings

LINES = [
    "pump,site=s speed=1i,seq=0i 1763900000000",
    "pump,site=s speed=2i,seq=1i 1763900000001",
    'pump,site=s speed="fast",seq=2i 1763900000002',
    "pump,site=s speed=4i,seq=3i 1763900000003",
]


def influx_settings(**values: Any) -> InfluxSettings:
    return InfluxSettings(influx_url="http://influx.test:8086", influx_database="plant", **values)


class Server:
    """Answers each request with `respond(request, lines)`; records what was sent."""

    def __init__(self, respond: Callable[[httpx.Request, list[str]], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []
        self.writes: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        lines: list[str] = []
        if request.url.path == "/write":
            assert request.headers["Content-Encoding"] == "gzip"
            lines = gzip.decompress(request.content).decode().split("\n")
            self.writes.append(lines)
        return self.respond(request, lines)


def writer(server: Server, **values: Any) -> InfluxWriter:
    settings = influx_settings(influx_create_database=False, **values)
    return InfluxWriter(settings, transport=httpx.MockTransport(server))


def refuse(bad: set[str], body: Callable[[list[str]], dict[str, Any]]) -> Callable[..., Any]:
    def respond(request: httpx.Request, lines: list[str]) -> httpx.Response:
        if bad & set(lines):
            return httpx.Response(400, json=body([line for line in lines if line in bad]))
        return httpx.Response(204)

    return respond


async def test_a_write_is_gzip_line_protocol_with_db_precision_and_basic_auth() -> None:
    server = Server(lambda r, lines: httpx.Response(204))
    async with writer(
        server, influx_username="ingest", influx_password="s3cret", influx_retention_policy="raw"
    ) as w:
        report = await w.write(LINES[:2])
    assert report.rejected == [] and report.requests == 1
    params = dict(server.requests[0].url.params)
    assert params == {"db": "plant", "rp": "raw", "precision": "ms"}
    assert server.writes == [LINES[:2]]
    # HTTP Basic: the password never appears in a URL (request logs, proxies, error messages)
    expected = "Basic " + base64.b64encode(b"ingest:s3cret").decode()
    assert server.requests[0].headers["Authorization"] == expected


async def test_a_token_goes_in_the_authorization_header() -> None:
    server = Server(lambda r, lines: httpx.Response(204))
    async with writer(server, influx_token="tok-123", influx_username="ignored") as w:
        await w.write(LINES[:1])
    assert server.requests[0].headers["Authorization"] == "Token tok-123"
    assert "u" not in server.requests[0].url.params


async def test_influxdb_1x_unable_to_parse_names_the_line_and_the_rest_is_retried() -> None:
    def body(bad: list[str]) -> dict[str, Any]:
        msgs = "\n".join(f"unable to parse '{b}': invalid number" for b in bad)
        return {"error": f"partial write: {msgs} dropped=0"}

    server = Server(refuse({LINES[2]}, body))
    async with writer(server) as w:
        report = await w.write(LINES)
    assert [(r.index, r.line) for r in report.rejected] == [(2, LINES[2])]
    assert report.rejected[0].reason == "unable to parse: invalid number"
    assert server.writes == [LINES, [LINES[0], LINES[1], LINES[3]]]


async def test_a_field_type_conflict_is_traced_to_the_lines_with_that_type() -> None:
    def body(bad: list[str]) -> dict[str, Any]:
        return {
            "error": 'partial write: field type conflict: input field "speed" on measurement '
            '"pump" is type string, already exists as type integer dropped=1'
        }

    server = Server(refuse({LINES[2]}, body))
    async with writer(server) as w:
        report = await w.write(LINES)
    assert [r.index for r in report.rejected] == [2]
    assert "already has it as integer" in report.rejected[0].reason
    assert len(server.writes) == 2


async def test_influxdb_3_partial_write_data_names_lines() -> None:
    def body(bad: list[str]) -> dict[str, Any]:
        return {
            "error": "partial write of line protocol occurred",
            "data": [
                {"original_line": b, "line_number": 3, "error_message": "invalid column type"}
                for b in bad
            ],
        }

    server = Server(refuse({LINES[2]}, body))
    async with writer(server) as w:
        report = await w.write(LINES)
    assert [(r.index, r.reason) for r in report.rejected] == [(2, "invalid column type")]


async def test_an_error_naming_no_line_is_bisected_down_to_the_bad_ones() -> None:
    server = Server(refuse({LINES[1], LINES[2]}, lambda bad: {"error": "field type conflict"}))
    async with writer(server) as w:
        report = await w.write(LINES)
    assert sorted(r.index for r in report.rejected) == [1, 2]
    assert all(r.reason == "field type conflict" for r in report.rejected)
    stored = {line for b in server.writes if not {LINES[1], LINES[2]} & set(b) for line in b}
    assert stored == {LINES[0], LINES[3]}
    assert report.requests <= 2 * len(LINES)


async def test_too_large_batches_are_halved() -> None:
    def respond(request: httpx.Request, lines: list[str]) -> httpx.Response:
        return httpx.Response(413 if len(lines) > 1 else 204, json={"error": "too large"})

    server = Server(respond)
    async with writer(server) as w:
        report = await w.write(LINES)
    assert report.rejected == []
    assert sorted(b[0] for b in server.writes if len(b) == 1) == sorted(LINES)


@pytest.mark.parametrize("status", [500, 503, 401, 403, 404])
async def test_server_errors_and_refusals_make_influxdb_unavailable(status: int) -> None:
    server = Server(lambda r, lines: httpx.Response(status, json={"error": "boom"}))
    async with writer(server) as w:
        with pytest.raises(InfluxUnavailable, match=f"HTTP {status}"):
            await w.write(LINES)


async def test_a_write_refused_for_credentials_says_what_to_set() -> None:
    server = Server(lambda r, lines: httpx.Response(401, json={"error": "authorization failed"}))
    async with writer(server) as w:
        with pytest.raises(InfluxUnavailable, match="PLANTROOM_INFLUX_TOKEN"):
            await w.write(LINES)


async def test_connection_errors_make_influxdb_unavailable() -> None:
    def respond(request: httpx.Request, lines: list[str]) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with writer(Server(respond)) as w:
        with pytest.raises(InfluxUnavailable, match="unreachable"):
            await w.write(LINES)


async def test_prepare_creates_the_database_and_a_missing_retention_policy() -> None:
    def respond(request: httpx.Request, lines: list[str]) -> httpx.Response:
        q = request.url.params["q"]
        if q.startswith("SHOW RETENTION POLICIES"):
            values = [["autogen", "0s", "168h0m0s", 1, True]]
            return httpx.Response(
                200,
                json={
                    "results": [
                        {
                            "statement_id": 0,
                            "series": [
                                {
                                    "columns": [
                                        "name",
                                        "duration",
                                        "shardGroupDuration",
                                        "replicaN",
                                        "default",
                                    ],
                                    "values": values,
                                }
                            ],
                        }
                    ]
                },
            )
        return httpx.Response(200, json={"results": [{"statement_id": 0}]})

    server = Server(respond)
    settings = influx_settings(influx_retention_policy='raw "1"')
    async with InfluxWriter(settings, transport=httpx.MockTransport(server)) as w:
        await w.prepare()
    statements = [(r.method, r.url.params["q"]) for r in server.requests]
    assert statements == [
        ("POST", 'CREATE DATABASE "plant"'),
        ("GET", 'SHOW RETENTION POLICIES ON "plant"'),
        ("POST", 'CREATE RETENTION POLICY "raw \\"1\\"" ON "plant" DURATION INF REPLICATION 1'),
    ]


async def test_prepare_refused_credentials_is_a_clear_configuration_error() -> None:
    server = Server(lambda r, lines: httpx.Response(401, json={"error": "authorization failed"}))
    settings = influx_settings()
    async with InfluxWriter(settings, transport=httpx.MockTransport(server)) as w:
        with pytest.raises(InfluxAuthError, match=r"HTTP 401.*PLANTROOM_INFLUX_TOKEN"):
            await w.prepare()


async def test_prepare_forbidden_tells_how_to_run_without_creating_the_database() -> None:
    server = Server(lambda r, lines: httpx.Response(403, json={"error": "requires admin"}))
    settings = influx_settings()
    async with InfluxWriter(settings, transport=httpx.MockTransport(server)) as w:
        with pytest.raises(InfluxAuthError, match="PLANTROOM_INFLUX_CREATE_DATABASE=false"):
            await w.prepare()


async def test_a_missing_database_is_created_again_before_the_next_write() -> None:
    created: list[str] = []

    def respond(request: httpx.Request, lines: list[str]) -> httpx.Response:
        if request.url.path == "/query":
            created.append(request.url.params["q"])
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        if len(created) < 2:
            return httpx.Response(404, json={"error": 'database not found: "plant"'})
        return httpx.Response(204)

    server = Server(respond)
    settings = influx_settings()
    async with InfluxWriter(settings, transport=httpx.MockTransport(server)) as w:
        await w.prepare()
        with pytest.raises(InfluxUnavailable, match="database"):
            await w.write(LINES)
        report = await w.write(LINES)
    assert report.rejected == [] and created == ['CREATE DATABASE "plant"'] * 2


def test_find_bad_lines_handles_newlines_inside_string_fields() -> None:
    lines = ['m s="a\nb",v=1i 1', "m v=2i 2"]
    body = json.dumps({"error": f"unable to parse '{lines[0]}': bad timestamp"})
    assert find_bad_lines(body, lines) == {0: "unable to parse: bad timestamp"}


def test_find_bad_lines_names_nothing_for_unrelated_errors() -> None:
    assert find_bad_lines('{"error":"points beyond retention policy dropped=2"}', LINES) == {}
    assert find_bad_lines("not json at all", LINES) == {}


def test_error_text_reads_1x_2x_and_plain_bodies() -> None:
    assert error_text(b'{"error":"one"}') == "one"
    assert error_text(b'{"code":"invalid","message":"two"}') == "two"
    assert error_text(b" three \n") == "three"


@pytest.mark.parametrize(
    "error",
    ["no dbrp mapping found for database plant", 'bucket "plant/autogen" not found'],
)
async def test_a_400_about_configuration_is_retried_not_dead_lettered(error: str) -> None:
    body = {"code": "invalid", "message": error}
    server = Server(lambda r, lines: httpx.Response(400, json=body))
    async with writer(server) as w:
        with pytest.raises(InfluxUnavailable, match="HTTP 400"):
            await w.write(LINES)
    assert len(server.writes) == 1


async def test_refused_credentials_while_running_keep_the_gateway_retrying() -> None:
    server = Server(lambda r, lines: httpx.Response(401, json={"error": "authorization failed"}))
    settings = influx_settings()  # creates the database before its first write
    async with InfluxWriter(settings, transport=httpx.MockTransport(server)) as w:
        with pytest.raises(InfluxUnavailable, match="PLANTROOM_INFLUX_TOKEN"):
            await w.write(LINES)
