"""Health line, Prometheus text, metrics endpoint, dead-letter log and retry policy."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from gateway.deadletter import DeadLetters
from gateway.metrics import serve_metrics
from gateway.retry import RetryPolicy
from gateway.service import Gateway
from gateway.stats import GatewayStats, prometheus_text
from plantroom.errors import ConfigError
from plantroom.influx.parse import parse_line
from plantroom.ports import free_port
from plantroom.settings import GatewaySettings


def test_the_health_line_carries_the_counters_with_stable_types(tmp_path: Path) -> None:
    gateway = Gateway(GatewaySettings(gateway_id="gw 7", gateway_buffer_dir=tmp_path))
    gateway.stats.points_in = 10
    gateway.stats.batch_latency_ms = 3  # an int must still go out as a float
    parsed = parse_line(gateway.health_line())
    assert parsed.measurement == "plantroom_health"
    assert parsed.tags == {"component": "gateway", "instance": "gw 7"}
    assert parsed.fields["points_in"] == 10
    assert parsed.fields["batch_latency_ms"] == 3.0
    assert isinstance(parsed.fields["batch_latency_ms"], float)
    for name in (
        "points_out",
        "lines_written",
        "batches",
        "buffer_depth",
        "dead_letters",
        "write_errors",
    ):
        assert type(parsed.fields[name]) is int
    assert parsed.timestamp is not None and parsed.timestamp > 1_700_000_000_000


def test_prometheus_text_has_typed_counters_and_gauges() -> None:
    stats = GatewayStats(lines_written=5, buffer_depth=2)
    text = prometheus_text(stats, 'gw"1')
    assert "# TYPE plantroom_gateway_lines_written_total counter" in text
    assert 'plantroom_gateway_lines_written_total{instance="gw\\"1"} 5' in text
    assert "# TYPE plantroom_gateway_buffer_depth gauge" in text
    assert 'plantroom_gateway_buffer_depth{instance="gw\\"1"} 2' in text
    assert text.endswith("\n")


async def test_the_metrics_endpoint_serves_get_metrics_only() -> None:
    port = free_port()
    server = asyncio.create_task(serve_metrics(lambda: "x_total 1\n", "127.0.0.1", port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(100):
                try:
                    ok = await client.get("/metrics")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert ok.status_code == 200 and ok.text == "x_total 1\n"
            assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert (await client.get("/")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server


def test_dead_letters_are_json_lines_with_excerpts_and_a_bounded_file(tmp_path: Path) -> None:
    log = DeadLetters(tmp_path, max_bytes=2000, excerpt_chars=50)
    log.open()
    try:
        log.message("plantroom/v1/s/b/pump/p/telemetry", "seq: too small", b"\xff" + b"x" * 500)
        log.line('pump v="a" 1', "field type conflict")
        entries = [json.loads(x) for x in log.path.read_text().splitlines()]
        assert entries[0]["kind"] == "message" and entries[0]["reason"] == "seq: too small"
        assert entries[0]["payload"].startswith("\ufffdxxx") and entries[0]["payload"].endswith("…")
        assert len(entries[0]["payload"]) == 51
        assert entries[1] == {**entries[1], "kind": "line", "line": 'pump v="a" 1'}
        for _ in range(40):
            log.line("m v=1i 1", "refused")
        assert log.count == 42
        assert log.path.stat().st_size <= 2000
        assert log.path.with_name("dead-letters.jsonl.1").exists()
    finally:
        log.close()


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="first_s"):
        RetryPolicy(first_s=0)
    with pytest.raises(ValueError, match="direct_attempts"):
        RetryPolicy(direct_attempts=0)


async def test_two_gateways_with_one_id_refuse_to_share_a_buffer(tmp_path: Path) -> None:
    settings = GatewaySettings(gateway_id="gw-1", gateway_buffer_dir=tmp_path)
    holder = Gateway(settings)
    holder.buffer.open()  # as a running replica holds it
    try:
        with pytest.raises(ConfigError, match="PLANTROOM_GATEWAY_ID"):
            async with Gateway(settings):
                pass
    finally:
        holder.buffer.close()
