"""Pipeline health: is telemetry flowing from the edge through the gateway into InfluxDB?

Everything comes from `plantroom_health` (`dashboards.measurements`): the gateway's lines, one
per edge agent, one per device an agent polls, and the cloud intake's (`boards.intake`). Each
query reads one component's source (`boards.health`): the kinds never mix.
"""

from __future__ import annotations

from functools import partial

from dashboards import grafana as g
from dashboards.boards import health
from dashboards.boards.health import (
    INSTANCE,
    PER_SECOND,
    WORST_DEVICES_QUERY,
    component_series,
    in_range,
    increase,
    rate,
)
from dashboards.boards.intake import CLOUD_INTAKE
from dashboards.dashboard import Dashboard
from dashboards.influxql import ident
from dashboards.measurements import EDGE, EDGE_DEVICE, GATEWAY, HEALTH
from dashboards.panels import (
    HIDE_TIME,
    STAT,
    STATE,
    TABLE,
    TIMESERIES,
    Board,
    Latest,
    Nested,
    Panel,
    Row,
    Series,
    add_panels,
    counter_bars,
    trend,
)

UID = "plantroom-pipeline"
WORST_DEVICES = 20
_SKEW_BOUNDS = g.thresholds((None, g.BAD), (-300, g.GOOD), (300, g.BAD))


# Latencies in ms: good under a second; bad from 5 s for a batch write, 3 s for a device poll.
_WRITE_LATENCY = g.thresholds((None, g.GOOD), (1000, g.WARN), (5000, g.BAD))
_POLL_LATENCY = g.thresholds((None, g.GOOD), (1000, g.WARN), (3000, g.BAD))


def _latency_look(bounds: g.JSON) -> g.Look:
    return g.Look(unit="ms", decimals=0, min=0, thresholds=bounds)


def _count_look(color: str) -> g.Look:
    return g.Look(
        decimals=0,
        color_mode="thresholds",
        thresholds=g.thresholds((None, g.GOOD), (1, color)),
    )


def _counted_in_range(
    title: str, source: str, counter: str, description: str, *, color: str, w: int, h: int
) -> Panel:
    """How much one counter of each instance grew over the time range, in `color` from one."""
    return Panel(
        viz=STAT,
        title=title,
        queries=in_range(source, [counter]),
        description=description,
        look=_count_look(color),
        w=w,
        h=h,
    )


_gw = partial(component_series, GATEWAY)
_edge = partial(component_series, EDGE)


GATEWAYS: Board = [
    Row("Gateways"),
    trend(
        "Points per second",
        _gw(f"{rate('points_in', 'in')}, {rate('points_out', 'out')}"),
        "Point values each gateway took in from MQTT (after validation) and "
        "InfluxDB stored, per second. Out below in for long means writes are failing "
        "and the disk buffer is filling.",
        g.Look(unit="suffix: pts/s", decimals=1, min=0),
    ),
    trend(
        "Writes per second",
        _gw(
            f"{rate('lines_written', 'lines')}, {rate('batches', 'batches')}, "
            f"{rate('messages_in', 'messages in')}"
        ),
        "Lines and batches each gateway wrote to InfluxDB, and MQTT messages "
        "it received, per second.",
        PER_SECOND,
    ),
    trend(
        "Write latency",
        _gw('mean({batch_latency_ms:number}) AS "mean", max({batch_latency_ms:number}) AS "max"'),
        "How long the latest batch write to InfluxDB took, mean and worst per interval.",
        _latency_look(_WRITE_LATENCY),
        w=8,
    ),
    trend(
        "Disk buffer depth",
        _gw('max({buffer_depth:number}) AS "lines"', alias=INSTANCE),
        "Lines waiting in each gateway's disk buffer for InfluxDB. A depth "
        "that keeps growing means InfluxDB is unreachable or refusing writes.",
        g.Look(decimals=0, min=0),
        w=8,
    ),
    counter_bars(
        "Dead letters and write errors",
        _gw(
            f"{increase('dead_letters', 'dead letters')}, "
            f"{increase('write_errors', 'write errors')}, "
            f"{increase('buffer_dropped', 'buffer dropped')}"
        ),
        "Per interval: messages and lines the gateway set aside as invalid, "
        "failed InfluxDB write attempts, and lines the disk buffer dropped at its limit.",
        w=8,
        h=8,
    ),
    _counted_in_range(
        "Dead letters in range",
        GATEWAY,
        "dead_letters",
        "Invalid messages and lines each gateway set aside over the time range (see the "
        "gateway's dead-letter directory).",
        color=g.WARN,
        w=6,
        h=5,
    ),
    _counted_in_range(
        "Buffer lines lost in range",
        GATEWAY,
        "buffer_dropped",
        "Lines each gateway's disk buffer dropped at its size limit over the time range: "
        "telemetry that never reached InfluxDB.",
        color=g.BAD,
        w=6,
        h=5,
    ),
    Panel(
        viz=STAT,
        title="Edge health reports per minute",
        queries=_gw(rate("edge_health_in", "reports", per="1m"), alias=INSTANCE),
        description="Edge agents' health reports each gateway accepted per minute, "
        "lately. Zero means no agent is reporting through that gateway.",
        look=g.Look(
            decimals=1,
            color_mode="thresholds",
            thresholds=g.thresholds((None, g.BAD), (0.01, g.GOOD)),
        ),
        w=12,
        h=5,
    ),
]

_DEVICE_STATES = ", ".join(
    f"last({{devices_{state}:number}}) AS {ident(state)}"
    for state in ("online", "offline", "stale", "unknown")
)
# The ratio of per-interval increases; intervals without polls are left out, not 0 %.
_ON_SCHEDULE = Nested(
    '100 * "on_schedule_total" / ("polls_total" + "skipped_total") AS "on schedule"',
    _edge(", ".join(increase(c, c) for c in ("on_schedule_total", "polls_total", "skipped_total"))),
    where=('"polls_total" > 0',),
    source=EDGE,
    alias=INSTANCE,
)
_POLL_ERRORS = ", ".join(
    rate(f"{name}_total", name) for name in ("timeouts", "exceptions", "errors")
)

AGENTS: Board = [
    Row("Edge agents"),
    Panel(
        viz=STATE,
        title="Broker connection",
        queries=_edge('last({broker_connected:number}) AS "connected"', alias=INSTANCE),
        description="Whether each agent was connected to the MQTT broker when it "
        "reported. While disconnected it queues telemetry (see queue depth).",
        states=g.number_mappings({1: ("connected", g.GOOD), 0: ("DISCONNECTED", g.BAD)}),
        w=12,
        h=6,
    ),
    counter_bars(
        "Broker reconnects",
        _edge(increase("broker_reconnects", "reconnects"), alias=INSTANCE),
        "Times each agent connected to the broker again, per interval.",
        w=12,
        h=6,
    ),
    Panel(
        viz=TIMESERIES,
        title="Devices by availability",
        queries=_edge(_DEVICE_STATES),
        description="Devices each agent sees online, offline (not answering), stale (no "
        "fresh data) and unknown (not polled yet).",
        look=g.Look(decimals=0, min=0),
        steps=True,
        w=12,
        h=8,
    ),
    Panel(
        viz=STAT,
        title="Devices offline or stale now",
        queries=Latest(
            'last({devices_offline:number}) + last({devices_stale:number}) AS "not online"',
            source=EDGE,
            alias=INSTANCE,
        ),
        description="Devices each agent reports offline or stale in its latest report.",
        look=_count_look(g.BAD),
        w=12,
        h=8,
    ),
    trend(
        "Queue depth",
        _edge('max({queue_depth:number}) AS "depth", last({queue_max:number}) AS "limit"'),
        "Samples in each agent's store-and-forward queue, and the queue's "
        "limit. It grows while the broker is unreachable; at the limit the agent drops "
        "measurements (never alarms or states).",
        g.Look(decimals=0, min=0),
    ),
    counter_bars(
        "Dropped at the edge",
        _edge(
            f"{increase('buffer_dropped', 'dropped')}, "
            f"{increase('broker_refused', 'refused_by_broker')}"
        ),
        "Samples each agent's queue dropped or refused at its limit, and samples "
        "the broker refused (its ACL does not let the agent publish them), per interval: "
        "telemetry lost before it left the building.",
        w=6,
        h=8,
    ),
    _counted_in_range(
        "Dropped in range",
        EDGE,
        "buffer_dropped",
        "Samples each agent dropped over the time range.",
        color=g.BAD,
        w=6,
        h=8,
    ),
    trend(
        "Polls on schedule",
        _ON_SCHEDULE,
        "Share of each agent's due polls that started on time (within 10 % "
        "of the poll cycle): on schedule / (polls + skipped), per interval. Below 100 % "
        "the agent is overloaded or devices are too slow for their poll interval.",
        g.Look(
            unit="percent",
            decimals=1,
            max=100,
            color_mode="thresholds",
            thresholds=g.thresholds((None, g.BAD), (95, g.WARN), (99, g.GOOD)),
        ),
    ),
    trend(
        "Poll errors per second",
        _edge(f"{_POLL_ERRORS}, {rate('vendor_malformed', 'malformed')}"),
        "Per second: Modbus reads that timed out, exception responses, other "
        "failed reads (connection lost, bad answers), and malformed vendor MQTT messages.",
        g.Look(unit="suffix: /s", decimals=2, min=0),
    ),
    trend(
        "Polls and publishes per second",
        _edge(f"{rate('polls_total', 'polls')}, {rate('published', 'published')}"),
        "Device polls each agent started, and messages it published to the broker, per second.",
        PER_SECOND,
    ),
    trend(
        "Slowest device poll latency (p99)",
        Series(
            'max({poll_latency_p99_ms:number}) AS "worst p99"', source=EDGE_DEVICE, alias=INSTANCE
        ),
        "The highest p99 poll latency among each agent's devices, per "
        "interval: the device the agent waits on longest.",
        _latency_look(_POLL_LATENCY),
    ),
    trend(
        "Edge clock skew",
        _edge('min({receive_delay_s:number}) AS "skew"', alias=INSTANCE),
        "Gateway receive time minus each agent's report time, the smallest per "
        "interval (delays only add): the agent's clock difference plus delivery delay. "
        "Positive: the agent's clock is behind; negative: ahead. Beyond the allowed skew "
        "(PLANTROOM_MAX_CLOCK_SKEW_S, 300 s by default) its samples are refused or look old "
        "and the cloud's /api/health turns degraded: set the edge box's clock.",
        g.Look(unit="s", decimals=1, thresholds=_SKEW_BOUNDS),
    ),
]


def _worst_table(title: str, sort_field: str, description: str) -> Panel:
    color_cells = {"type": "color-background", "mode": "basic"}
    return Panel(
        viz=TABLE,
        title=title,
        queries=WORST_DEVICES_QUERY,
        description=description,
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"sort": [{"field": sort_field, "desc": True}]}},
            {"id": "limit", "options": {"limitField": WORST_DEVICES}},
            HIDE_TIME,
        ],
        overrides=[
            g.override(".* latency", regex=True, unit="ms", decimals=0),
            g.override(
                "timeouts",
                cell_type=color_cells,
                thresholds=g.thresholds((None, g.GOOD), (1, g.WARN), (10, g.BAD)),
            ),
            g.override(
                "p99 latency",
                cell_type=color_cells,
                thresholds=_POLL_LATENCY,
            ),
        ],
        w=12,
        h=10,
    )


DEVICES: Board = [
    Row("Edge devices"),
    _worst_table(
        "Devices with the most timeouts",
        "timeouts",
        f"The {WORST_DEVICES} devices with the most read timeouts over the time range, "
        "with their exceptions, other errors, skipped and total polls and worst poll "
        "latency. Click a column to sort by it.",
    ),
    _worst_table(
        "Slowest devices",
        "p99 latency",
        f"The {WORST_DEVICES} devices with the highest p99 poll latency over the time "
        "range (the worst of their reports' p99), with their error counts.",
    ),
]


def build() -> Dashboard:
    d = Dashboard(
        UID,
        "Plantroom · Pipeline health",
        "The telemetry pipeline itself: gateway throughput, write latency, disk buffer and "
        "dead letters; the cloud intake's lag; edge agents' broker connection, queue, drops, "
        "device availability, polls on schedule and poll errors; the worst devices.",
        tags=("pipeline", HEALTH),
        variables=health.variables(),
        time_from="now-3h",
        refresh="10s",
    )
    return add_panels(d, [*GATEWAYS, *CLOUD_INTAKE, *AGENTS, *DEVICES], health.sources())
