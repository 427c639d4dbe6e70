"""Pipeline health: is telemetry flowing from the edge through the gateway into InfluxDB?

Everything comes from `plantroom_health`, which holds three kinds of line (see
`dashboards.measurements`): the gateway's own, one per edge agent and one per device an agent
polls. Every query filters on `component`, so the kinds never mix. Counters are cumulative
since the writing process started; rates use `non_negative_derivative` and per-interval
increases `non_negative_difference`, so a restart (a counter back at zero) is not a negative
spike.
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import grafana as g
from dashboards.grafana import JSON
from dashboards.influxql import (
    SITE,
    TIME_FILTER,
    ident,
    over_time,
    show_tag_values,
    string,
    tag_var,
)
from dashboards.measurements import EDGE, EDGE_DEVICE, GATEWAY, HEALTH, health_fields
from dashboards.profiles import FieldSet

UID = "plantroom-pipeline"
NUMBER = ("integer", "float")
WORST_DEVICES = 20


def _is(component: str) -> str:
    return f"{ident('component')} = {string(component)}"


# The scope of each kind of line: its component, and the instances (and sites) selected.
SCOPES: dict[str, tuple[str, ...]] = {
    GATEWAY: (_is(GATEWAY), tag_var("instance", "gateway")),
    EDGE: (_is(EDGE), SITE, tag_var("instance", "agent")),
    EDGE_DEVICE: (_is(EDGE_DEVICE), SITE, tag_var("instance", "agent")),
}


class _Health:
    """Query builders over the fields of one component's lines, checked against its schema."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.fields: FieldSet = health_fields(component)
        self.scope = SCOPES[component]

    def f(self, name: str) -> str:
        return self.fields.f(name, *NUMBER)

    def rate(self, name: str, alias: str, per: str = "1s") -> str:
        """A counter's increase per second (or per `per`)."""
        return f"non_negative_derivative(max({self.f(name)}), {per}) AS {ident(alias)}"

    def increase(self, name: str, alias: str) -> str:
        """A counter's increase per `$__interval`."""
        return f"non_negative_difference(max({self.f(name)})) AS {ident(alias)}"

    def over_time(self, select: str, by: Sequence[str] = ("instance",)) -> str:
        return over_time(select, HEALTH, self.scope, by=by)

    def in_range(self, counters: Sequence[str], by: Sequence[str] = ("instance",)) -> str:
        """Each counter's increase over the whole range, summed per interval so that a
        restart inside the range does not lose what was counted before it."""
        inner = self.over_time(", ".join(self.increase(c, c) for c in counters), by)
        sums = ", ".join(f"sum({ident(c)}) AS {ident(c)}" for c in counters)
        group = ", ".join(ident(t) for t in by)
        return f"SELECT {sums} FROM ({inner}) WHERE {TIME_FILTER} GROUP BY {group}"


def _variables() -> list[JSON]:
    return [
        g.query_variable("gateway", "Gateway", show_tag_values(HEALTH, "instance", [_is(GATEWAY)])),
        g.query_variable("site", "Site", show_tag_values(HEALTH, "site", [_is(EDGE)])),
        g.query_variable(
            "agent", "Edge agent", show_tag_values(HEALTH, "instance", [_is(EDGE), SITE])
        ),
    ]


def _count_look(bad_from: float = 1, color: str = g.WARN) -> g.Look:
    return g.Look(
        decimals=0,
        color_mode="thresholds",
        thresholds=g.thresholds((None, g.GOOD), (bad_from, color)),
    )


def _gateways(d: g.Dashboard) -> None:
    gw = _Health(GATEWAY)
    d.row("Gateways")
    d.add(
        g.timeseries(
            "Points per second",
            [
                g.target(
                    gw.over_time(f"{gw.rate('points_in', 'in')}, {gw.rate('points_out', 'out')}"),
                    alias="$tag_instance $col",
                )
            ],
            description="Point values each gateway took in from MQTT (after validation) and "
            "InfluxDB stored, per second. Out below in for long means writes are failing "
            "and the disk buffer is filling.",
            look=g.Look(unit="suffix: pts/s", decimals=1, min=0),
        ),
        12,
        8,
    )
    d.add(
        g.timeseries(
            "Writes per second",
            [
                g.target(
                    gw.over_time(
                        f"{gw.rate('lines_written', 'lines')}, {gw.rate('batches', 'batches')}, "
                        f"{gw.rate('messages_in', 'messages in')}"
                    ),
                    alias="$tag_instance $col",
                )
            ],
            description="Lines and batches each gateway wrote to InfluxDB, and MQTT messages "
            "it received, per second.",
            look=g.Look(unit="suffix: /s", decimals=1, min=0),
        ),
        12,
        8,
    )
    latency = (
        f'mean({gw.f("batch_latency_ms")}) AS "mean", max({gw.f("batch_latency_ms")}) AS "max"'
    )
    d.add(
        g.timeseries(
            "Write latency",
            [g.target(gw.over_time(latency), alias="$tag_instance $col")],
            description="How long the latest batch write to InfluxDB took, mean and worst "
            "per interval.",
            look=g.Look(
                unit="ms",
                decimals=0,
                min=0,
                thresholds=g.thresholds((None, g.GOOD), (1000, g.WARN), (5000, g.BAD)),
            ),
            threshold_line=True,
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Disk buffer depth",
            [
                g.target(
                    gw.over_time(f'max({gw.f("buffer_depth")}) AS "lines"'),
                    alias="$tag_instance",
                )
            ],
            description="Lines waiting in each gateway's disk buffer for InfluxDB. A depth "
            "that keeps growing means InfluxDB is unreachable or refusing writes.",
            look=g.Look(decimals=0, min=0),
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Dead letters and write errors",
            [
                g.target(
                    gw.over_time(
                        f"{gw.increase('dead_letters', 'dead letters')}, "
                        f"{gw.increase('write_errors', 'write errors')}, "
                        f"{gw.increase('buffer_dropped', 'buffer dropped')}"
                    ),
                    alias="$tag_instance $col",
                )
            ],
            description="Per interval: messages and lines the gateway set aside as invalid, "
            "failed InfluxDB write attempts, and lines the disk buffer dropped at its limit.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        8,
        8,
    )
    d.add(
        g.stat(
            "Dead letters in range",
            [g.target(gw.in_range(["dead_letters"]), alias="$tag_instance")],
            description="Invalid messages and lines each gateway set aside over the time "
            "range (see the gateway's dead-letter directory).",
            look=_count_look(),
        ),
        6,
        5,
    )
    d.add(
        g.stat(
            "Buffer lines lost in range",
            [g.target(gw.in_range(["buffer_dropped"]), alias="$tag_instance")],
            description="Lines each gateway's disk buffer dropped at its size limit over the "
            "time range: telemetry that never reached InfluxDB.",
            look=_count_look(color=g.BAD),
        ),
        6,
        5,
    )
    d.add(
        g.stat(
            "Edge health reports per minute",
            [
                g.target(
                    gw.over_time(gw.rate("edge_health_in", "reports", per="1m")),
                    alias="$tag_instance",
                )
            ],
            description="Edge agents' health reports each gateway accepted per minute, "
            "lately. Zero means no agent is reporting through that gateway.",
            look=g.Look(
                decimals=1,
                color_mode="thresholds",
                thresholds=g.thresholds((None, g.BAD), (0.01, g.GOOD)),
            ),
        ),
        12,
        5,
    )


def _agents(d: g.Dashboard) -> None:
    edge = _Health(EDGE)
    d.row("Edge agents")
    d.add(
        g.state_timeline(
            "Broker connection",
            [
                g.target(
                    edge.over_time(f'last({edge.f("broker_connected")}) AS "connected"'),
                    alias="$tag_instance",
                )
            ],
            description="Whether each agent was connected to the MQTT broker when it "
            "reported. While disconnected it queues telemetry (see queue depth).",
            mappings=g.number_mappings({1: ("connected", g.GOOD), 0: ("DISCONNECTED", g.BAD)}),
        ),
        12,
        6,
    )
    d.add(
        g.timeseries(
            "Broker reconnects",
            [
                g.target(
                    edge.over_time(edge.increase("broker_reconnects", "reconnects")),
                    alias="$tag_instance",
                )
            ],
            description="Times each agent connected to the broker again, per interval.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        12,
        6,
    )
    devices = ", ".join(
        f"last({edge.f(f'devices_{state}')}) AS {ident(state)}"
        for state in ("online", "offline", "stale", "unknown")
    )
    d.add(
        g.timeseries(
            "Devices by availability",
            [g.target(edge.over_time(devices), alias="$tag_instance $col")],
            description="Devices each agent sees online, offline (not answering), stale (no "
            "fresh data) and unknown (not polled yet).",
            look=g.Look(decimals=0, min=0),
            steps=True,
        ),
        12,
        8,
    )
    not_online = (
        f"SELECT last({edge.f('devices_offline')}) + last({edge.f('devices_stale')}) "
        f'AS "not online" FROM {ident(HEALTH)} WHERE '
        + " AND ".join([*edge.scope, TIME_FILTER])
        + ' GROUP BY "instance"'
    )
    d.add(
        g.stat(
            "Devices offline or stale now",
            [g.target(not_online, alias="$tag_instance")],
            description="Devices each agent reports offline or stale in its latest report.",
            look=_count_look(color=g.BAD),
        ),
        12,
        8,
    )
    queue = f'max({edge.f("queue_depth")}) AS "depth", last({edge.f("queue_max")}) AS "limit"'
    d.add(
        g.timeseries(
            "Queue depth",
            [g.target(edge.over_time(queue), alias="$tag_instance $col")],
            description="Samples in each agent's store-and-forward queue, and the queue's "
            "limit. It grows while the broker is unreachable; at the limit the agent drops "
            "measurements (never alarms or states).",
            look=g.Look(decimals=0, min=0),
        ),
        12,
        8,
    )
    d.add(
        g.timeseries(
            "Dropped at the edge",
            [
                g.target(
                    edge.over_time(
                        f"{edge.increase('buffer_dropped', 'dropped')}, "
                        f"{edge.increase('broker_refused', 'refused_by_broker')}"
                    ),
                    alias="$tag_instance $col",
                )
            ],
            description="Samples each agent's queue dropped or refused at its limit, and samples "
            "the broker refused (its ACL does not let the agent publish them), per interval: "
            "telemetry lost before it left the building.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        6,
        8,
    )
    d.add(
        g.stat(
            "Dropped in range",
            [g.target(edge.in_range(["buffer_dropped"]), alias="$tag_instance")],
            description="Samples each agent dropped over the time range.",
            look=_count_look(color=g.BAD),
        ),
        6,
        8,
    )
    # The ratio of per-interval increases; intervals without polls are left out, not 0 %.
    counts = ", ".join(
        edge.increase(c, c) for c in ("on_schedule_total", "polls_total", "skipped_total")
    )
    ratio = (
        'SELECT 100 * "on_schedule_total" / ("polls_total" + "skipped_total") AS "on schedule" '
        f'FROM ({edge.over_time(counts)}) WHERE "polls_total" > 0 AND {TIME_FILTER} '
        'GROUP BY "instance"'
    )
    d.add(
        g.timeseries(
            "Polls on schedule",
            [g.target(ratio, alias="$tag_instance")],
            description="Share of each agent's due polls that started on time (within 10 % "
            "of the poll cycle): on schedule / (polls + skipped), per interval. Below 100 % "
            "the agent is overloaded or devices are too slow for their poll interval.",
            look=g.Look(
                unit="percent",
                decimals=1,
                max=100,
                color_mode="thresholds",
                thresholds=g.thresholds((None, g.BAD), (95, g.WARN), (99, g.GOOD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )
    errors = ", ".join(
        edge.rate(f"{name}_total", name) for name in ("timeouts", "exceptions", "errors")
    )
    d.add(
        g.timeseries(
            "Poll errors per second",
            [
                g.target(
                    edge.over_time(f"{errors}, {edge.rate('vendor_malformed', 'malformed')}"),
                    alias="$tag_instance $col",
                )
            ],
            description="Per second: Modbus reads that timed out, exception responses, other "
            "failed reads (connection lost, bad answers), and malformed vendor MQTT messages.",
            look=g.Look(unit="suffix: /s", decimals=2, min=0),
        ),
        12,
        8,
    )
    d.add(
        g.timeseries(
            "Polls and publishes per second",
            [
                g.target(
                    edge.over_time(
                        f"{edge.rate('polls_total', 'polls')}, "
                        f"{edge.rate('published', 'published')}"
                    ),
                    alias="$tag_instance $col",
                )
            ],
            description="Device polls each agent started, and messages it published to the "
            "broker, per second.",
            look=g.Look(unit="suffix: /s", decimals=1, min=0),
        ),
        12,
        8,
    )
    device = _Health(EDGE_DEVICE)
    worst = f'max({device.f("poll_latency_p99_ms")}) AS "worst p99"'
    d.add(
        g.timeseries(
            "Slowest device poll latency (p99)",
            [g.target(device.over_time(worst), alias="$tag_instance")],
            description="The highest p99 poll latency among each agent's devices, per "
            "interval: the device the agent waits on longest.",
            look=g.Look(
                unit="ms",
                decimals=0,
                min=0,
                thresholds=g.thresholds((None, g.GOOD), (1000, g.WARN), (3000, g.BAD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )


def _worst_devices_query() -> str:
    device = _Health(EDGE_DEVICE)
    by = ("site", "instance", "equipment")
    counters = ("timeouts", "exceptions", "errors", "skipped", "polls")
    inner = device.over_time(
        ", ".join(device.increase(c, c) for c in counters)
        + f', max({device.f("poll_latency_p99_ms")}) AS "p99"'
        + f', max({device.f("poll_latency_max_ms")}) AS "max"',
        by,
    )
    sums = ", ".join(f"sum({ident(c)}) AS {ident(c)}" for c in counters)
    return (
        f'SELECT {sums}, max("p99") AS "p99 latency", max("max") AS "max latency" '
        f"FROM ({inner}) WHERE {TIME_FILTER} GROUP BY {', '.join(ident(t) for t in by)}"
    )


def _worst_table(title: str, sort_field: str, description: str) -> JSON:
    return g.table(
        title,
        [g.target(_worst_devices_query(), table=True)],
        description=description,
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"sort": [{"field": sort_field, "desc": True}]}},
            {"id": "limit", "options": {"limitField": WORST_DEVICES}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
        overrides=[
            g.override(".* latency", regex=True, unit="ms", decimals=0),
            g.override(
                "timeouts",
                cell_type={"type": "color-background", "mode": "basic"},
                thresholds=g.thresholds((None, g.GOOD), (1, g.WARN), (10, g.BAD)),
            ),
            g.override(
                "p99 latency",
                cell_type={"type": "color-background", "mode": "basic"},
                thresholds=g.thresholds((None, g.GOOD), (1000, g.WARN), (3000, g.BAD)),
            ),
        ],
    )


def _devices(d: g.Dashboard) -> None:
    d.row("Edge devices")
    d.add(
        _worst_table(
            "Devices with the most timeouts",
            "timeouts",
            f"The {WORST_DEVICES} devices with the most read timeouts over the time range, "
            "with their exceptions, other errors, skipped and total polls and worst poll "
            "latency. Click a column to sort by it.",
        ),
        12,
        10,
    )
    d.add(
        _worst_table(
            "Slowest devices",
            "p99 latency",
            f"The {WORST_DEVICES} devices with the highest p99 poll latency over the time "
            "range (the worst of their reports' p99), with their error counts.",
        ),
        12,
        10,
    )


def build() -> g.Dashboard:
    d = g.Dashboard(
        UID,
        "Plantroom · Pipeline health",
        "The telemetry pipeline itself: gateway throughput, write latency, disk buffer and "
        "dead letters; edge agents' broker connection, queue, drops, device availability, "
        "polls on schedule and poll errors; the worst devices by timeouts and latency.",
        tags=("pipeline", HEALTH),
        variables=_variables(),
        time_from="now-3h",
        refresh="10s",
    )
    _gateways(d)
    _agents(d)
    _devices(d)
    return d
