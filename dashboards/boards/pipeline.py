"""Pipeline health: is telemetry flowing from the edge through the gateway into InfluxDB?"""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.influxql import (
    TIME_FILTER,
    ident,
    over_time,
    show_tag_values,
    string,
    tag_var,
)
from dashboards.measurements import HEALTH, health_fields

UID = "plantroom-pipeline"
NUMBER = ("integer", "float")
COMPONENT = tag_var("component")
INSTANCE = tag_var("instance")
SCOPE = (COMPONENT, INSTANCE)
BY = ("component", "instance")


def _only(component: str) -> tuple[str, ...]:
    return (*SCOPE, f'"component" = {string(component)}')


def build() -> g.Dashboard:
    h = health_fields()
    d = g.Dashboard(
        UID,
        "Plantroom · Pipeline health",
        "The telemetry pipeline itself: edge polling latency and errors, points per second "
        "through each component, gateway batches and buffer, dead letters and write errors.",
        tags=("pipeline", HEALTH),
        variables=[
            g.query_variable("component", "Component", show_tag_values(HEALTH, "component")),
            g.query_variable(
                "instance", "Instance", show_tag_values(HEALTH, "instance", [COMPONENT])
            ),
        ],
        time_from="now-3h",
        refresh="10s",
    )

    def rate(field: str, alias: str) -> str:
        return f"non_negative_derivative(max({h.f(field, *NUMBER)}), 1s) AS {ident(alias)}"

    def increase(field: str, alias: str) -> str:
        return f"non_negative_difference(max({h.f(field, *NUMBER)})) AS {ident(alias)}"

    def in_range(field: str, component: str) -> str:
        """Counter increase over the whole range, robust to a counter reset on restart."""
        inner = over_time(
            f'non_negative_difference(max({h.f(field, *NUMBER)})) AS "n"',
            HEALTH,
            _only(component),
            by=("instance",),
        )
        outer = f'SELECT sum("n") AS {ident(field)} FROM ({inner}) WHERE {TIME_FILTER}'
        return f'{outer} GROUP BY "instance"'

    d.row("Throughput")
    points = over_time(
        f"{rate('points_in', 'in')}, {rate('points_out', 'out')}", HEALTH, SCOPE, by=BY
    )
    d.add(
        g.timeseries(
            "Points per second",
            [g.target(points, alias="$tag_component $tag_instance $col")],
            description="Telemetry points taken in and passed on per second by each "
            "component: edge polled → published, gateway received → written.",
            look=g.Look(unit="suffix: pts/s", decimals=1, min=0),
        ),
        12,
        8,
    )
    written = over_time(
        f"{rate('lines_written', 'lines')}, {rate('batches', 'batches')}",
        HEALTH,
        _only("gateway"),
        by=("instance",),
    )
    d.add(
        g.timeseries(
            "Gateway writes per second",
            [g.target(written, alias="$tag_instance $col")],
            description="Lines and batches the gateway wrote to InfluxDB per second.",
            look=g.Look(unit="suffix: /s", decimals=1, min=0),
        ),
        12,
        8,
    )

    d.row("Latency and backlog")
    poll = over_time(
        f'mean({h.f("poll_latency_ms", *NUMBER)}) AS "mean", '
        f'max({h.f("poll_latency_ms", *NUMBER)}) AS "max"',
        HEALTH,
        _only("edge"),
        by=("instance",),
    )
    d.add(
        g.timeseries(
            "Edge poll latency",
            [g.target(poll, alias="$tag_instance $col")],
            description="Time an edge agent takes to poll its equipment, mean and worst per "
            "interval.",
            look=g.Look(
                unit="ms",
                decimals=0,
                min=0,
                thresholds=g.thresholds((None, g.GOOD), (1000, g.WARN), (5000, g.BAD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )
    batch = over_time(
        f'mean({h.f("batch_latency_ms", *NUMBER)}) AS "mean", '
        f'max({h.f("batch_latency_ms", *NUMBER)}) AS "max"',
        HEALTH,
        _only("gateway"),
        by=("instance",),
    )
    d.add(
        g.timeseries(
            "Gateway batch latency",
            [g.target(batch, alias="$tag_instance $col")],
            description="Time from a batch's first point to its write, mean and worst.",
            look=g.Look(unit="ms", decimals=0, min=0),
        ),
        12,
        8,
    )
    buffer = over_time(
        f'max({h.f("buffer_depth", *NUMBER)}) AS "gateway buffer"', HEALTH, _only("gateway"), by=BY
    )
    queue = over_time(
        f'max({h.f("queue_depth", *NUMBER)}) AS "edge queue"', HEALTH, _only("edge"), by=BY
    )
    d.add(
        g.timeseries(
            "Buffer depth",
            [
                g.target(buffer, alias="$tag_instance $col"),
                g.target(queue, alias="$tag_instance $col"),
            ],
            description="Points held back: the gateway's disk buffer while InfluxDB is "
            "unreachable, the edge's store-and-forward queue while the broker is. A depth "
            "that keeps growing means the next hop is down.",
            look=g.Look(decimals=0, min=0),
        ),
        24,
        8,
    )

    d.row("Losses and errors")
    d.add(
        g.timeseries(
            "Dead letters and write errors",
            [
                g.target(
                    over_time(
                        f"{increase('dead_letters', 'dead letters')}, "
                        f"{increase('write_errors', 'write errors')}",
                        HEALTH,
                        _only("gateway"),
                        by=("instance",),
                    ),
                    alias="$tag_instance $col",
                )
            ],
            description="Messages the gateway set aside as invalid, and failed InfluxDB "
            "writes, per interval.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        12,
        8,
    )
    d.add(
        g.stat(
            "Dead letters in range",
            [g.target(in_range("dead_letters", "gateway"), alias="$tag_instance")],
            description="Invalid messages set aside by each gateway over the time range.",
            look=g.Look(
                decimals=0,
                color_mode="thresholds",
                thresholds=g.thresholds((None, g.GOOD), (1, g.WARN)),
            ),
        ),
        6,
        8,
    )
    d.add(
        g.stat(
            "Dropped at the edge in range",
            [g.target(in_range("dropped", "edge"), alias="$tag_instance")],
            description="Points an edge agent dropped because its queue was full.",
            look=g.Look(
                decimals=0,
                color_mode="thresholds",
                thresholds=g.thresholds((None, g.GOOD), (1, g.BAD)),
            ),
        ),
        6,
        8,
    )
    d.add(
        g.timeseries(
            "Edge errors",
            [
                g.target(
                    over_time(
                        f"{increase('timeouts', 'timeouts')}, "
                        f"{increase('exceptions', 'exceptions')}, "
                        f"{increase('reconnects', 'reconnects')}, "
                        f"{increase('dropped', 'dropped')}",
                        HEALTH,
                        _only("edge"),
                        by=("instance",),
                    ),
                    alias="$tag_instance $col",
                )
            ],
            description="Modbus timeouts and exception responses, reconnects and dropped "
            "points per interval.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        24,
        8,
    )
    return d
