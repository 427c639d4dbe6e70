"""The cloud's InfluxDB points go through the contract's encoder and writer, with its rule."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.notify.influx import InfluxEventsSink, event_lines, line, write
from cloud.notify.pump import Permanent, Retryable
from plantroom.influx.lineprotocol import LineProtocolError
from plantroom.influx.parse import parse_line
from plantroom.influx.writer import InfluxTarget, InfluxWriter
from tests.cloud.notify.harness import outgoing

AT = datetime(2026, 11, 2, 9, 30, 15, 250000, tzinfo=UTC)
TARGET = InfluxTarget(url="http://influx.test:8086", database="plant")


@given(text=st.text(st.one_of(st.sampled_from(['"', "\\", "\n", ",", "=", " "]), st.characters())))
def test_any_event_text_reads_back_unchanged(text: str) -> None:
    written = line("events", {"site": "s1", "type": "wo_raised"}, {"text": text}, AT)
    parsed = parse_line(written)
    assert parsed.fields == {"text": text}
    assert parsed.tags == {"site": "s1", "type": "wo_raised"}
    assert parsed.timestamp == 1793611815250


def test_a_line_break_in_the_text_is_written_as_itself() -> None:
    written = line("events", {}, {"text": "two\nlines"}, AT)
    assert written == 'events text="two\nlines" 1793611815250'


def test_a_tag_line_protocol_cannot_carry_is_refused() -> None:
    with pytest.raises(LineProtocolError, match="value of tag 'equipment'"):
        line("events", {"equipment": "p\n1"}, {"text": "x"}, AT)
    with pytest.raises(LineProtocolError, match="backslash"):
        line("events", {"building": "b\\,1"}, {"text": "x"}, AT)


class Server:
    def __init__(self, status: int = 204, body: str = "") -> None:
        self.status = status
        self.body = body
        self.bodies: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/write"
        self.bodies.append(gzip.decompress(request.content).decode())
        return httpx.Response(self.status, text=self.body)


def influx(server: Server) -> InfluxWriter:
    return InfluxWriter(TARGET, transport=httpx.MockTransport(server))


async def test_an_event_line_protocol_cannot_carry_is_skipped_and_the_rest_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server()
    good = outgoing(event_id=1, title="two\nlines")
    bad = outgoing(event_id=2, equipment_id="p\n1")
    async with influx(server) as writer:
        await InfluxEventsSink(writer).deliver([good, bad])
    assert server.bodies == ["\n".join(event_lines(good))]
    assert "skipped event 2" in caplog.text and "'equipment'" in caplog.text


async def test_influxdb_away_is_retryable_and_a_refused_line_permanent() -> None:
    async with influx(Server(503, '{"error": "overloaded"}')) as writer:
        with pytest.raises(Retryable, match="HTTP 503"):
            await write(writer, ["m f=1i 1"])
    refusal = Server(400, '{"error": "unable to parse \'m f=\': missing field value"}')
    async with influx(refusal) as writer:
        with pytest.raises(Permanent, match=r"refused 1 of 1 lines.*missing field value"):
            await write(writer, ["m f="])
