"""Every dashboard query runs against a real InfluxDB holding realistic Plantroom data.

The data follows the contract, not the dashboard code: telemetry for the demo campus with
fields and types read from the device profiles (plain YAML), pipeline health, work-order
metrics and events. Each variable, panel and annotation query is interpolated the way Grafana
interpolates InfluxQL (multi-value variables as regex alternations, `$timeFilter`,
`$__interval`) and must run without error and return data.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloud.intake import Delays, IntakeQueue, LagWatch, health_fields
from cloud.notify.influx import intake_line
from cloud.receiver import IngestStats
from cloud.triggers import Triggers
from dashboards.build import GENERATED_DIR
from gateway.edgehealth import HEALTH_MEASUREMENT, edge_health_lines
from gateway.stats import GatewayStats
from plantroom.health import DEVICE_COUNTERS, EdgeHealth
from plantroom.influx.lineprotocol import encode_line
from plantroom.profiles import SHIPPED_DIR
from stack.services import Influxd
from tests.harness import REPO

pytestmark = pytest.mark.integration

DB = "plantroom"
PROFILES_DIR = SHIPPED_DIR
INVENTORY = REPO / "sites" / "demo.yaml"
DASHBOARDS = sorted(GENERATED_DIR.glob("*.json"))
HISTORY_MIN = 8 * 60  # minutes of data, more than the longest default range with data in it
STEP_S = 60
PRIORITIES = ("emergency", "urgent", "normal", "low")
WO_KINDS = ("fault", "pm", "request")

# What goes wrong on the campus during the history, by equipment and point: realistic faults
# so that panels that filter on faults (door faults, alarms) have something to show.
EPISODES: dict[str, dict[str, Any]] = {
    "lift-a2": {"fault_code": "door_open_fault", "door_state": "fault", "mode": "out_of_service"},
    "lift-b1": {
        "fault_code": "drive_over_temperature",
        "mode": "stopped",
        "drive_temperature": 88.5,
    },
    "pump-a2": {"alarm_code": "dry_run", "run_state": "fault", "dry_run": True},
    "pump-b1": {"warning_code": "bearing_wear", "vibration": 6.2},
    "fire-a1": {"panel_state": "alarm", "zone_3": "alarm", "fire_alarm": True, "active_alarms": 1},
    "fire-b2": {"panel_state": "fault", "mains_ok": False, "trouble": True},
    "light-a1": {"circuit_2_tripped": True, "circuit_2_on": False, "circuit_2_failed_lamps": 3},
}
EPISODE_MIN = (150, 180)  # minutes before now: the faults last half an hour

UNIT_RANGES: dict[str, tuple[float, float]] = {
    "bar": (3.5, 5.5),
    "m3/h": (12.0, 30.0),
    "A": (6.0, 14.0),
    "kW": (2.5, 7.5),
    "rpm": (1450.0, 2900.0),
    "degC": (32.0, 55.0),
    "mm/s": (0.8, 2.5),
    "%": (25.0, 60.0),
    "V": (225.0, 235.0),
    "W": (180.0, 450.0),
    "kg": (0.0, 900.0),
}


# --- data following the profiles ---------------------------------------------------------


@dataclass(frozen=True)
class Point:
    name: str
    ftype: str  # string | boolean | integer | float
    role: str
    unit: str
    labels: tuple[str, ...]


def _ftype(p: dict[str, Any]) -> str:
    t = p["type"]
    if t in ("enum", "string"):
        return "string"
    if t in ("bool", "bit"):
        return "boolean"
    if t.startswith("float"):
        return "float"
    return "float" if float(p.get("scale", 1)) != 1.0 else "integer"


def load_profiles() -> dict[str, list[Point]]:
    out = {}
    for path in PROFILES_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        out[data["name"]] = [
            Point(
                p["name"],
                _ftype(p),
                p.get("role", "measurement"),
                p.get("unit", ""),
                tuple(str(v) for _, v in sorted((p.get("enum") or {}).items())),
            )
            for p in data["points"]
            # a derived point is computed at the edge from the points read; the history
            # written here is that of the points read
            if "derive" not in p
        ]
    return out


def _wave(minute: int, phase: int, lo: float, hi: float) -> float:
    return lo + (hi - lo) * (0.5 + 0.5 * math.sin((minute + 7 * phase) / 23.0))


CYCLES = {
    "direction": ("idle", "up", "down"),
    "door_state": ("closed", "opening", "open", "closing"),
    "run_state": ("running", "running", "stopped"),
}


def normal_value(p: Point, minute: int, phase: int) -> Any:
    """A plausible value of a point in normal operation, `minute` minutes into the history."""
    if p.ftype == "string":
        cycle = CYCLES.get(p.name)
        return cycle[(minute + phase) % len(cycle)] if cycle else p.labels[0]
    if p.ftype == "boolean":
        return (
            p.name.endswith("_ok")
            or p.name == "at_landing"
            or re.fullmatch(r"circuit_\d+_on", p.name) is not None
        )
    if p.role == "counter":
        value = 1000.0 * (phase + 1) + minute * (0.5 if p.unit == "h" else 3)
    elif p.unit in UNIT_RANGES:
        lo, hi = UNIT_RANGES[p.unit]
        if p.name == "battery_voltage":
            lo, hi = 26.8, 27.4
        value = _wave(minute, phase, lo, hi)
    elif p.name == "floor":
        value = (minute * 3 + phase) % 24
    elif p.name.endswith("_lamps") and "failed" not in p.name:
        value = 12
    else:
        value = 0
    return round(value) if p.ftype == "integer" else float(value)


def _tag(value: str) -> str:
    return value.replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")


def _field(value: Any, ftype: str) -> str:
    if ftype == "string":
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if ftype == "boolean":
        return "true" if value else "false"
    if ftype == "integer":
        return f"{int(value)}i"
    return repr(float(value))


def line(measurement: str, tags: dict[str, str], fields: dict[str, str], ts_ms: int) -> str:
    tag_text = ",".join(f"{k}={_tag(v)}" for k, v in sorted(tags.items()))
    field_text = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"{measurement},{tag_text} {field_text} {ts_ms}"


def telemetry(now_ms: int, profiles: dict[str, list[Point]]) -> Iterator[str]:
    inventory = yaml.safe_load(INVENTORY.read_text())
    site = inventory["site"]["id"]
    phase = 0
    for building in inventory["buildings"]:
        for eq in building["equipment"]:
            points = {p.name: p for p in profiles[eq["profile"]]}
            episode = EPISODES.get(eq["id"], {})
            for name, value in episode.items():  # the scenario itself must fit the profiles
                assert name in points, f"{eq['id']}: {name} is not a point of {eq['profile']}"
                if points[name].labels:
                    assert value in points[name].labels, f"{eq['id']}: {name}={value}"
            tags = {"site": site, "building": building["id"], "equipment": eq["id"]}
            if eq.get("floor"):
                tags["floor"] = str(eq["floor"])
            for seq, minute in enumerate(range(HISTORY_MIN)):
                ago = HISTORY_MIN - minute
                faulty = EPISODE_MIN[0] <= ago < EPISODE_MIN[1]
                fields = {}
                for p in points.values():
                    value = episode[p.name] if faulty and p.name in episode else None
                    if value is None:
                        value = normal_value(p, minute, phase)
                    fields[p.name] = _field(value, p.ftype)
                fields["seq"] = f"{seq}i"
                yield line(eq["kind"], tags, fields, now_ms - ago * STEP_S * 1000)
            phase += 1


# Pipeline health as the gateway writes it: its own line (GatewayStats.health_fields through
# the same encoder as GatewayService.health_line) and the lines of the edge agents' health
# reports (gateway.edgehealth). One report a minute; a restart puts a process's counters back
# at zero, as it does for real.
GATEWAY_RESTART = {"gateway-2": 240}
AGENT_RESTART = {"edge-tower-a": 200}
BROKER_OUTAGE = ("edge-tower-b", range(300, 330))  # minutes into the history
DEVICE_TROUBLE = {"pump-a2": "timeouts", "lift-b1": "slow"}
QUEUE_MAX = 10_000


def gateway_health(now_ms: int) -> Iterator[str]:
    for i, instance in enumerate(("gateway-1", "gateway-2")):
        stats = GatewayStats()
        for minute in range(HISTORY_MIN):
            if minute == GATEWAY_RESTART.get(instance):
                stats = GatewayStats()
            messages = 60 * (24 + i)
            stats.messages_in += messages
            stats.points_in += messages * 20
            stats.acked += messages
            stats.edge_health_in += 2
            down = 300 <= minute < 320 and instance == "gateway-1"  # InfluxDB unreachable
            if down:
                stats.write_errors += 6
                stats.buffer_depth += messages
                stats.buffered_lines += messages
            else:
                stats.points_out += (messages + stats.buffer_depth) * 20
                stats.lines_written += messages + stats.buffer_depth + 1
                stats.batches += 12 + stats.buffer_depth // 500
                stats.buffer_depth = 0
            if minute % 90 == 45:
                stats.dead_letters += 1
            if minute == 319 and instance == "gateway-1":
                stats.buffer_dropped += 40
            stats.batch_latency_ms = _wave(minute, i, 15.0, 90.0) * (20 if down else 1)
            ts = now_ms - (HISTORY_MIN - minute) * STEP_S * 1000
            tags = {"component": "gateway", "instance": instance}
            yield encode_line(HEALTH_MEASUREMENT, tags, stats.health_fields(), ts)


def modbus_equipment() -> dict[str, list[str]]:
    """The Modbus equipment of each building of the demo campus, by building id."""
    inventory = yaml.safe_load(INVENTORY.read_text())
    return {
        b["id"]: [e["id"] for e in b["equipment"] if e["connection"]["type"] != "mqtt"]
        for b in inventory["buildings"]
    }


def edge_health(now_ms: int) -> Iterator[str]:
    inventory = yaml.safe_load(INVENTORY.read_text())
    site = inventory["site"]["id"]
    for phase, (building, equipment) in enumerate(modbus_equipment().items()):
        agent = f"edge-{building}"
        start = 0
        counts: dict[str, dict[str, int]] = {}
        totals: dict[str, int] = {}
        for minute in range(HISTORY_MIN):
            if minute == AGENT_RESTART.get(agent) or not counts:
                start = minute
                counts = {eq: dict.fromkeys(DEVICE_COUNTERS, 0) for eq in equipment}
                totals = dict.fromkeys(("published", "connects", "dropped", "malformed"), 0)
                totals["connects"] = 1
            outage = agent == BROKER_OUTAGE[0] and minute in BROKER_OUTAGE[1]
            if agent == BROKER_OUTAGE[0] and minute == BROKER_OUTAGE[1].stop:
                totals["connects"] += 1
            devices: dict[str, dict[str, int | float]] = {}
            for eq in equipment:
                c = counts[eq]
                trouble = DEVICE_TROUBLE.get(eq)
                failing = trouble == "timeouts" and EPISODE_MIN[0] <= HISTORY_MIN - minute < 300
                polls = 4 if failing else 60
                c["polls"] += polls
                c["on_schedule"] += polls - (2 if trouble == "slow" else minute % 7 == 0)
                c["late"] = c["polls"] - c["on_schedule"]
                c["skipped"] += 56 if failing else 0
                c["timeouts"] += 4 if failing else (minute % 60 == 0)
                c["exceptions"] += minute % 120 == 0
                c["errors"] += 1 if failing and minute % 10 == 0 else 0
                c["reconnects"] += 1 if failing and minute % 30 == 0 else 0
                p50 = _wave(minute, phase, 8.0, 25.0) * (8 if trouble == "slow" else 1)
                devices[eq] = {
                    **c,
                    "poll_latency_p50_ms": round(p50, 3),
                    "poll_latency_p99_ms": round(p50 * 3 + (2900.0 if failing else 0.0), 3),
                    "poll_latency_max_ms": round(p50 * 4 + (3000.0 if failing else 0.0), 3),
                }
            queue = 60 * (minute - BROKER_OUTAGE[1].start + 1) if outage else minute % 5
            if outage and minute >= BROKER_OUTAGE[1].stop - 3:
                totals["dropped"] += 25
            totals["published"] += 0 if outage else 60 * len(equipment) + 2
            totals["malformed"] += minute % 100 == 0
            online = sum(1 for eq in equipment if DEVICE_TROUBLE.get(eq) != "timeouts")
            failing_now = len(equipment) - online
            agent_figures: dict[str, int | float] = {
                "uptime_s": float((minute - start) * 60 + 12.5),
                "queue_depth": queue,
                "queue_max": QUEUE_MAX,
                "buffer_dropped": totals["dropped"],
                "published": totals["published"],
                "broker_connected": 0 if outage else 1,
                "broker_connects": totals["connects"],
                "broker_reconnects": totals["connects"] - 1,
                "devices_online": online,
                "devices_offline": failing_now if minute % 2 else 0,
                "devices_stale": 0 if minute % 2 else failing_now,
                "devices_unknown": 0,
                "vendor_malformed": totals["malformed"],
                "modbus_links": 1,
            }
            for name in ("polls", "on_schedule", "late", "skipped", "timeouts", "exceptions"):
                agent_figures[f"{name}_total"] = sum(c[name] for c in counts.values())
            agent_figures["errors_total"] = sum(c["errors"] for c in counts.values())
            report = EdgeHealth(
                ts=now_ms - (HISTORY_MIN - minute) * STEP_S * 1000,
                seq=phase * 100_000 + minute,
                agent=agent_figures,
                devices=devices,
            )
            # the gateway received each report 40 ms after its time; edge-b's clock is 2 s slow
            delay_ms = 40 + (2000 if agent.endswith("b") else 0)
            yield from edge_health_lines(site, agent, report, received_ms=report.ts + delay_ms)


def cloud_health(now_ms: int) -> Iterator[str]:
    """The cloud intake's line, made by the cloud's own code: it falls behind for half an
    hour (routine samples folded and late, alarms still fast), then catches up."""
    site = yaml.safe_load(INVENTORY.read_text())["site"]["id"]
    intake, stats, delays, lag = (
        IntakeQueue(10_000, Triggers([])),
        IngestStats(),
        Delays(),
        LagWatch(60),
    )
    for minute in range(HISTORY_MIN):
        behind = 200 <= minute < 230
        stats.received += 60 * 25
        stats.processed += 60 * (15 if behind else 25)
        intake.coalesced += 60 * 10 if behind else 0
        wait = 90.0 if behind else 0.2
        lag.observe(wait)
        delays.urgent_s, delays.routine_s = 0.05, wait
        at = datetime.fromtimestamp((now_ms - (HISTORY_MIN - minute) * STEP_S * 1000) / 1000, UTC)
        yield intake_line(site, "cloud-1", health_fields(intake, delays, lag, stats, wait), at)


def health(now_ms: int) -> Iterator[str]:
    yield from gateway_health(now_ms)
    yield from edge_health(now_ms)
    yield from cloud_health(now_ms)


def work_orders(now_ms: int) -> Iterator[str]:
    inventory = yaml.safe_load(INVENTORY.read_text())
    site = inventory["site"]["id"]
    for b, building in enumerate(inventory["buildings"]):
        for p, priority in enumerate(PRIORITIES):
            for k, kind in enumerate(WO_KINDS):
                tags = {
                    "site": site,
                    "building": building["id"],
                    "priority": priority,
                    "kind": kind,
                }
                for minute in range(0, HISTORY_MIN, 5):
                    ts = now_ms - (HISTORY_MIN - minute) * STEP_S * 1000
                    n = (minute // 60 + b + p + k) % 5
                    yield line(
                        "work_orders",
                        tags,
                        {
                            "open": f"{n}i",
                            "acknowledged": f"{n // 2}i",
                            "in_progress": f"{n // 3}i",
                            "overdue": f"{1 if priority == 'urgent' and n > 3 else 0}i",
                            "mtta_s": repr(60.0 + 30 * p + minute % 40),
                            "mttr_s": repr(3600.0 * (p + 1) + 10 * minute),
                            "sla_compliance_pct": repr(100.0 - (n % 3) * 0.7),
                            "dispatched_pct": repr(100.0 - (n % 4) * 2.5),
                            "ack_in_dispatch_pct": repr(90.0 - (n % 4) * 5.0),
                            "equipment_good_pct": repr(100.0 - b * 6.25),
                            "fire_good_pct": repr(100.0 - (1 - b) * 50.0),
                            "lighting_good_pct": repr(100.0 - b * 2.1),
                            "follow_up_pct": repr(30.0 + b * 5.0),
                            "complaint_pct": repr(1.0 + b * 0.5),
                            "satisfaction": repr(4.0 + b * 0.25),
                        },
                        ts,
                    )


def events(now_ms: int) -> Iterator[str]:
    inventory = yaml.safe_load(INVENTORY.read_text())
    site = inventory["site"]["id"]
    where = {
        eq["id"]: building["id"]
        for building in inventory["buildings"]
        for eq in building["equipment"]
    }
    start = now_ms - EPISODE_MIN[1] * 60_000
    end = now_ms - EPISODE_MIN[0] * 60_000
    for i, (equipment, episode) in enumerate(EPISODES.items()):
        what = ", ".join(f"{k}={v}" for k, v in episode.items())
        tags = {"site": site, "building": where[equipment], "equipment": equipment}
        priority = "emergency" if equipment.startswith("fire") else "urgent"
        for offset, etype, text in (
            (0, "alarm_raised", f"{equipment}: {what}"),
            (1000, "wo_raised", f"work order raised for {equipment}"),
            (120_000, "wo_acknowledged", f"work order for {equipment} acknowledged by tech-{i}"),
            (end - start, "alarm_cleared", f"{equipment}: cleared"),
            (end - start + 60_000, "wo_resolved", f"work order for {equipment} resolved"),
        ):
            fields = {"text": _field(text, "string"), "priority": _field(priority, "string")}
            yield line("events", {**tags, "type": etype}, fields, start + i * 1000 + offset)
        # the equipment was in maintenance for the half hour before its episode: a region
        window = {
            "text": _field(f"In maintenance: {equipment} serviced", "string"),
            "time_end_ms": _field(start - 60_000, "integer"),
        }
        yield line("events", {**tags, "type": "maintenance"}, window, start - 1_860_000 + i)


# --- Grafana's InfluxQL interpolation ------------------------------------------------------

# Grafana's interval rounding (rangeutil.roundInterval): upper bound (ms) → interval.
ROUNDING = (
    (1500, "1s"),
    (3500, "2s"),
    (7500, "5s"),
    (12500, "10s"),
    (17500, "15s"),
    (25000, "20s"),
    (45000, "30s"),
    (90000, "1m"),
    (180000, "2m"),
    (450000, "5m"),
    (1050000, "10m"),
    (2700000, "30m"),
    (5400000, "1h"),
    (9000000, "2h"),
    (27000000, "6h"),
    (64800000, "12h"),
)
MIN_INTERVAL_S = 10  # the provisioned datasource's timeInterval
UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str) -> int:
    return int(text[:-1]) * UNITS_S[text[-1]]


def grafana_interval(range_s: int, max_points: int = 1000) -> str:
    raw_ms = range_s * 1000 / max_points
    chosen = next((iv for bound, iv in ROUNDING if raw_ms < bound), "1d")
    return chosen if _seconds(chosen) >= MIN_INTERVAL_S else f"{MIN_INTERVAL_S}s"


def escape_regex(value: str) -> str:
    """Grafana's escapeRegex for values interpolated into an InfluxQL regex."""
    return re.sub(r"[\\^$*+?.()|[\]{}/]", lambda m: "\\" + m.group(0), value)


def format_values(values: list[str]) -> str:
    escaped = [escape_regex(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def interpolate(query: str, variables: dict[str, list[str]], time_from: str) -> str:
    """Substitute variables and the InfluxDB datasource's macros as Grafana does."""
    m = re.fullmatch(r"now-(\d+)([smhd])", time_from)
    assert m, f"unsupported dashboard time range {time_from!r}"
    range_s = int(m.group(1)) * UNITS_S[m.group(2)]
    interval = grafana_interval(range_s)
    time_filter = f"time >= now() - {m.group(1)}{m.group(2)} and time <= now()"
    macros = {
        "timeFilter": time_filter,
        "__timeFilter": time_filter,
        "__interval": interval,
        "interval": interval,
        "__interval_ms": str(_seconds(interval) * 1000),
        "__range_s": str(range_s),
    }

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in macros:
            return macros[name]
        if name in variables:
            return format_values(variables[name])
        raise AssertionError(f"query uses ${name}, which is neither a variable nor a macro")

    return VAR_RE.sub(sub, query)


# --- running queries ------------------------------------------------------------------------


def run(url: str, q: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Run one InfluxQL query; (error or None, series)."""
    params = urllib.parse.urlencode({"db": DB, "q": q, "epoch": "ms"})
    try:
        with urllib.request.urlopen(f"{url}/query?{params}", timeout=15) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace')}", []
    result = body["results"][0]
    if "error" in result:
        return str(result["error"]), []
    return None, result.get("series", [])


def has_data(series: list[dict[str, Any]]) -> bool:
    """At least one series, and every series holds at least one value (not only nulls)."""

    def filled(s: dict[str, Any]) -> bool:
        value_cols = [i for i, c in enumerate(s["columns"]) if c != "time"]
        return any(row[i] is not None for row in s.get("values", []) for i in value_cols)

    return bool(series) and all(filled(s) for s in series)


def write(url: str, lines: list[str]) -> None:
    req = urllib.request.Request(
        f"{url}/query", data=urllib.parse.urlencode({"q": f"CREATE DATABASE {DB}"}).encode()
    )
    with urllib.request.urlopen(req, timeout=15):
        pass
    for start in range(0, len(lines), 5000):
        body = "\n".join(lines[start : start + 5000]).encode()
        req = urllib.request.Request(f"{url}/write?db={DB}&precision=ms", data=body)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                assert resp.status == 204
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"write refused: {exc.read().decode(errors='replace')}") from exc


@pytest.fixture(scope="module")
def loaded(influxd: Influxd) -> str:
    now_ms = int(time.time() * 1000) - 5_000
    profiles = load_profiles()
    lines = [
        *telemetry(now_ms, profiles),
        *health(now_ms),
        *work_orders(now_ms),
        *events(now_ms),
    ]
    write(influxd.url, lines)
    return influxd.url


def resolve_variables(
    url: str, dashboard: dict[str, Any], pick_first: bool
) -> tuple[dict[str, list[str]], list[str]]:
    """Run the variable queries in order, each seeing the earlier selections (All, or the
    first value). Returns the selections and the problems found."""
    values: dict[str, list[str]] = {}
    problems = []
    for var in dashboard["templating"]["list"]:
        if var["type"] == "datasource":
            values[var["name"]] = [var["current"]["value"]]
            continue
        assert var["type"] == "query", f"unexpected variable type {var['type']}"
        q = interpolate(var["query"], values, dashboard["time"]["from"])
        error, series = run(url, q)
        found = sorted({row[1] for s in series for row in s.get("values", [])})
        if error or not found:
            problems.append(f"variable ${var['name']}: {error or 'no values'}\n    {q}")
            found = ["__none__"]
        values[var["name"]] = found[:1] if pick_first else found
    return values, problems


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for ann in dashboard["annotations"]["list"]:
        yield f"annotation {ann['name']!r}", ann["query"]
    for panel in dashboard["panels"]:
        for t in panel.get("targets", []):
            yield f"panel {panel['id']} {panel['title']!r} {t['refId']}", t["query"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_every_query_runs_and_returns_data(loaded: str, path: Path) -> None:
    dashboard = json.loads(path.read_text())
    variables, problems = resolve_variables(loaded, dashboard, pick_first=False)
    count = 0
    for where, query in queries(dashboard):
        q = interpolate(query, variables, dashboard["time"]["from"])
        error, series = run(loaded, q)
        count += 1
        if error:
            problems.append(f"{where}: {error}\n    {q}")
        elif not has_data(series):
            problems.append(f"{where}: no data\n    {q}")
    assert count >= 5, f"{path.name}: only {count} queries"
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_queries_run_with_one_value_of_each_variable(loaded: str, path: Path) -> None:
    dashboard = json.loads(path.read_text())
    variables, problems = resolve_variables(loaded, dashboard, pick_first=True)
    for where, query in queries(dashboard):
        q = interpolate(query, variables, dashboard["time"]["from"])
        error, _ = run(loaded, q)
        if error:
            problems.append(f"{where}: {error}\n    {q}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_interpolation_matches_grafana() -> None:
    variables = {"site": ["harbour"], "building": ["tower-a", "tower.b"]}
    q = interpolate(
        'SELECT x FROM m WHERE "site" =~ /^$site$/ AND "building" =~ /^${building}$/ '
        "AND $timeFilter GROUP BY time($__interval)",
        variables,
        "now-6h",
    )
    assert q == (
        'SELECT x FROM m WHERE "site" =~ /^harbour$/ AND "building" =~ /^(tower-a|tower\\.b)$/ '
        "AND time >= now() - 6h and time <= now() GROUP BY time(20s)"
    )
    assert grafana_interval(3 * 3600) == "10s"
    assert grafana_interval(24 * 3600) == "1m"
    assert grafana_interval(7 * 86400) == "10m"
    with pytest.raises(AssertionError, match=r"\$nope"):
        interpolate("SELECT $nope", variables, "now-1h")


def panel_series(url: str, dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """The series of a panel's first query, every variable on All."""
    variables, problems = resolve_variables(url, dashboard, pick_first=False)
    assert not problems, problems
    panel = next(p for p in dashboard["panels"] if p["title"] == title)
    q = interpolate(panel["targets"][0]["query"], variables, dashboard["time"]["from"])
    error, series = run(url, q)
    assert error is None, f"{title}: {error}\n    {q}"
    return series


def column(series: dict[str, Any], name: str) -> list[Any]:
    i = series["columns"].index(name)
    return [row[i] for row in series.get("values", []) if row[i] is not None]


def test_pipeline_health_shows_each_component_s_trouble(loaded: str) -> None:
    """The scenario's faults appear where they belong, and the kinds of line never mix."""
    dashboard = json.loads((GENERATED_DIR / "plantroom-pipeline.json").read_text())
    by = {
        title: {s["tags"]["instance"]: s for s in panel_series(loaded, dashboard, title)}
        for title in (
            "Dead letters in range",
            "Buffer lines lost in range",
            "Dropped in range",
            "Broker connection",
            "Polls on schedule",
            "Queue depth",
            "Disk buffer depth",
        )
    }
    assert set(by["Dead letters in range"]) == {"gateway-1", "gateway-2"}
    # gateway-2 restarted mid-range: what it counted before the restart is not lost.
    assert column(by["Dead letters in range"]["gateway-2"], "dead_letters") == [
        sum(1 for m in range(HISTORY_MIN - 180, HISTORY_MIN) if m % 90 == 45)
    ]
    assert column(by["Buffer lines lost in range"]["gateway-1"], "buffer_dropped") == [40]
    assert column(by["Dropped in range"]["edge-tower-b"], "buffer_dropped") == [75]
    assert column(by["Dropped in range"]["edge-tower-a"], "buffer_dropped") == [0]
    assert 0 in column(by["Broker connection"]["edge-tower-b"], "connected")
    assert set(column(by["Broker connection"]["edge-tower-a"], "connected")) == {1}
    assert max(column(by["Queue depth"]["edge-tower-b"], "depth")) >= 1000
    assert max(column(by["Disk buffer depth"]["gateway-1"], "lines")) > 0
    ratios = {agent: column(s, "on schedule") for agent, s in by["Polls on schedule"].items()}
    assert set(ratios) == {f"edge-{building}" for building in modbus_equipment()}
    assert min(ratios["edge-tower-a"]) < 90 < max(ratios["edge-tower-a"]) <= 100
    assert all(95 < r <= 100 for r in ratios["edge-tower-b"])

    devices = panel_series(loaded, dashboard, "Devices with the most timeouts")
    assert {s["tags"]["equipment"] for s in devices} == {
        eq for ids in modbus_equipment().values() for eq in ids
    }
    worst = max(devices, key=lambda s: column(s, "timeouts")[0])
    slowest = max(devices, key=lambda s: column(s, "p99 latency")[0])
    assert worst["tags"]["equipment"] == "pump-a2"
    assert slowest["tags"]["equipment"] == "pump-a2"
    others = [s for s in devices if s["tags"]["equipment"] not in ("pump-a2", "lift-b1")]
    lift_b1 = next(s for s in devices if s["tags"]["equipment"] == "lift-b1")
    assert column(lift_b1, "p99 latency")[0] > max(column(s, "p99 latency")[0] for s in others)
