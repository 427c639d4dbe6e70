"""The pipeline-health dashboard against what the gateway, the edge agents and the cloud's
telemetry intake write."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from cloud.intake import Delays, IntakeQueue, LagWatch
from cloud.intake import health_fields as intake_fields
from cloud.notify.influx import intake_line
from cloud.receiver import IngestStats
from cloud.triggers import Triggers
from dashboards.boards import pipeline
from dashboards.errors import DashboardError
from dashboards.grafana import JSON
from dashboards.measurements import (
    CLOUD,
    CLOUD_COUNTERS,
    EDGE,
    EDGE_COUNTERS,
    EDGE_DEVICE,
    EDGE_DEVICE_COUNTERS,
    GATEWAY,
    GATEWAY_COUNTERS,
    HEALTH,
    HEALTH_COMPONENTS,
    health_fields,
)
from edge.buffer_stats import BufferStats
from edge.health import DevicePollStats, agent_figures
from edge.publisher import PublisherStats
from gateway.edgehealth import EDGE_COMPONENT, EDGE_DEVICE_COMPONENT, edge_health_lines
from gateway.stats import GatewayStats
from plantroom.health import EdgeHealth
from plantroom.influx.parse import parse_line

COMPONENT_RE = re.compile(r"\"component\" = '(\w+)'")
# Each component's scope: the variables its queries must honour.
SCOPE_VARIABLES = {
    GATEWAY: ("/^$gateway$/",),
    EDGE: ("/^$site$/", "/^$agent$/"),
    EDGE_DEVICE: ("/^$site$/", "/^$agent$/"),
    CLOUD: (),
}


@pytest.fixture(scope="module")
def board() -> JSON:
    return pipeline.build().to_json()


def selects(board: JSON) -> list[tuple[str, str]]:
    out = []
    for panel in board["panels"]:
        for t in panel.get("targets", []):
            out.append((f"{panel['title']!r} {t['refId']}", t["query"]))
    return out


def test_the_components_match_the_writers() -> None:
    assert (EDGE_COMPONENT, EDGE_DEVICE_COMPONENT) == (EDGE, EDGE_DEVICE)
    assert set(HEALTH_COMPONENTS) == {GATEWAY, EDGE, EDGE_DEVICE, CLOUD}


def field_types(fields: dict[str, Any]) -> dict[str, str]:
    return {k: "float" if isinstance(v, float) else "integer" for k, v in fields.items()}


def test_gateway_fields_are_what_the_gateway_writes() -> None:
    written = field_types(GatewayStats(batch_latency_ms=1.5).health_fields())
    known = {name: spec.field_type for name, spec in health_fields(GATEWAY).points.items()}
    assert known == written


def test_edge_fields_are_what_the_agent_reports() -> None:
    device = DevicePollStats()
    device.record_poll(0.0, 0.1, 0.02)
    written = field_types(device.figures())
    known = {n: s.field_type for n, s in health_fields(EDGE_DEVICE).points.items()}
    assert known == written

    buffer = BufferStats(
        depth=1,
        max_samples=10,
        dropped_measurements=0,
        refused_measurements=0,
        dropped_keepers=0,
        oldest_ts=None,
    )
    agent = agent_figures(
        uptime_s=1.0,
        buffer=buffer,
        publisher=PublisherStats(),
        statuses=[None],
        polls=[device],
        vendor_malformed=0,
        modbus_links=1,
        modbus_requests=2,
    )
    # the line the gateway writes: the agent's figures, the report's seq, its receive delay
    report = EdgeHealth(ts=1_763_900_000_000, seq=1, agent=agent, devices={})
    [line] = edge_health_lines("harbour", "edge-1", report, received_ms=1_763_900_000_250)
    written = field_types(parse_line(line).fields)
    assert written["seq"] == "integer" and written["receive_delay_s"] == "float"
    known = {n: s.field_type for n, s in health_fields(EDGE).points.items()}
    assert known == written


def test_cloud_fields_are_what_the_cloud_writes() -> None:
    delays = Delays(urgent_s=0.05, routine_s=12.0)
    fields = intake_fields(IntakeQueue(10, Triggers([])), delays, LagWatch(60), IngestStats(), 0.0)
    line = parse_line(intake_line("harbour", "cloud-1", fields, datetime(2026, 1, 1, tzinfo=UTC)))
    assert line.tags == {"component": CLOUD, "instance": "cloud-1", "site": "harbour"}
    known = {n: s.field_type for n, s in health_fields(CLOUD).points.items()}
    assert known == field_types(line.fields)


def test_an_unknown_component_or_field_is_refused() -> None:
    with pytest.raises(DashboardError, match="unknown plantroom_health component 'broker'"):
        health_fields("broker")
    with pytest.raises(DashboardError, match=r"'timeouts'.*edge health schema"):
        health_fields(EDGE).f("timeouts")


def test_every_query_reads_one_component_in_its_scope(board: JSON) -> None:
    seen = set()
    for where, query in selects(board):
        assert f'FROM "{HEALTH}"' in query, where
        components = set(COMPONENT_RE.findall(query))
        assert len(components) == 1, f"{where}: filters on {components or 'no component'}"
        (component,) = components
        seen.add(component)
        for scope in SCOPE_VARIABLES[component]:
            assert scope in query, f"{where}: ignores {scope}"
        others = {v for c, vs in SCOPE_VARIABLES.items() if c != component for v in vs}
        assert not {v for v in others if v in query} - set(SCOPE_VARIABLES[component]), where
        fields = health_fields(component).points
        aliases = set(re.findall(r'AS "([\w ]+)"', query))
        for name in re.findall(r'\w+\("(\w+)"', query):
            if name not in aliases:
                assert name in fields, f"{where}: {component} lines have no field {name!r}"
    assert seen == {GATEWAY, EDGE, EDGE_DEVICE, CLOUD}


def test_counters_are_read_as_rates_or_increases(board: JSON) -> None:
    counters = {
        GATEWAY: GATEWAY_COUNTERS,
        EDGE: EDGE_COUNTERS,
        EDGE_DEVICE: EDGE_DEVICE_COUNTERS,
        CLOUD: CLOUD_COUNTERS,
    }
    for where, query in selects(board):
        (component,) = set(COMPONENT_RE.findall(query))
        for name in counters[component]:
            reads = query.count(f'max("{name}")') + query.count(f'last("{name}")')
            reads += query.count(f'mean("{name}")')
            wrapped = len(
                re.findall(rf'non_negative_(?:derivative|difference)\(max\("{name}"\)', query)
            )
            assert reads == wrapped, f"{where}: counter {name} read as a level"
            if f'sum("{name}")' in query:  # a sum of the per-interval increases
                assert f'non_negative_difference(max("{name}")) AS "{name}"' in query, where


def test_variables_are_chained_per_component(board: JSON) -> None:
    variables = {v["name"]: v["query"] for v in board["templating"]["list"] if "query" in v}
    assert variables["gateway"].endswith("WHERE \"component\" = 'gateway'")
    assert "\"component\" = 'edge'" in variables["site"]
    assert "\"component\" = 'edge'" in variables["agent"] and "$site" in variables["agent"]


def test_the_worst_device_tables_sort_and_limit(board: JSON) -> None:
    tables = {p["title"]: p for p in board["panels"] if p["type"] == "table"}
    assert set(tables) == {"Devices with the most timeouts", "Slowest devices"}
    for title, field in (
        ("Devices with the most timeouts", "timeouts"),
        ("Slowest devices", "p99 latency"),
    ):
        ids = [t["id"] for t in tables[title]["transformations"]]
        assert ids == ["merge", "sortBy", "limit", "organize"]
        sort = tables[title]["transformations"][1]["options"]["sort"]
        assert sort == [{"field": field, "desc": True}]
        assert tables[title]["targets"][0]["resultFormat"] == "table"
