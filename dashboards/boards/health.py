"""Queries over `plantroom_health`: each component's scope, counter rates and increases.

The measurement holds four kinds of line (see `dashboards.measurements`), told apart by the
`component` tag; each kind is a query source whose scope filters on its component, so the
kinds never mix. Counters are cumulative since the writing process started; rates use
`non_negative_derivative` and per-interval increases `non_negative_difference`, so a restart
(a counter back at zero) is not a negative spike.
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import grafana as g
from dashboards.grafana import JSON
from dashboards.influxql import SITE, ident, show_tag_values, string, tag_var
from dashboards.measurements import (
    CLOUD,
    EDGE,
    EDGE_DEVICE,
    GATEWAY,
    HEALTH,
    HEALTH_COMPONENTS,
    health_fields,
)
from dashboards.panels import Nested, Series, Source

INSTANCE = "$tag_instance"
EACH_COLUMN = "$tag_instance $col"  # a series per instance and field


def is_component(component: str) -> str:
    return f"{ident('component')} = {string(component)}"


# The scope of each kind of line: its component, and the instances (and sites) selected.
SCOPES: dict[str, tuple[str, ...]] = {
    GATEWAY: (is_component(GATEWAY), tag_var("instance", "gateway")),
    EDGE: (is_component(EDGE), SITE, tag_var("instance", "agent")),
    EDGE_DEVICE: (is_component(EDGE_DEVICE), SITE, tag_var("instance", "agent")),
    CLOUD: (is_component(CLOUD),),
}


def component_series(source: str, select: str, alias: str = EACH_COLUMN) -> Series:
    """`select` over one component's lines (`source`), a series per instance and field
    unless `alias` names them otherwise."""
    return Series(select, source=source, alias=alias)


def rate(name: str, alias: str, per: str = "1s") -> str:
    """A counter's increase per second (or per `per`)."""
    return f"non_negative_derivative(max({{{name}:number}}), {per}) AS {ident(alias)}"


PER_SECOND = g.Look(unit="suffix: /s", decimals=1, min=0)
"""The look of counters' rates per second."""


def increase(name: str, alias: str) -> str:
    """A counter's increase per `$__interval`."""
    return f"non_negative_difference(max({{{name}:number}})) AS {ident(alias)}"


def sums(counters: Sequence[str]) -> str:
    return ", ".join(f"sum({ident(c)}) AS {ident(c)}" for c in counters)


def in_range(source: str, counters: Sequence[str]) -> Nested:
    """Each counter's increase over the whole range, summed per interval so that a restart
    inside the range does not lose what was counted before it."""
    inner = Series(", ".join(increase(c, c) for c in counters), source=source)
    return Nested(sums(counters), inner, source=source, alias=INSTANCE)


DEVICE_COUNTERS = ("timeouts", "exceptions", "errors", "skipped", "polls")
# Each device's increases summed over the range, with the worst latencies of its reports.
WORST_DEVICES_QUERY = Nested(
    f'{sums(DEVICE_COUNTERS)}, max("p99") AS "p99 latency", max("max") AS "max latency"',
    Series(
        ", ".join(increase(c, c) for c in DEVICE_COUNTERS)
        + ', max({poll_latency_p99_ms:number}) AS "p99"'
        + ', max({poll_latency_max_ms:number}) AS "max"',
        by=("site", "instance", "equipment"),
    ),
    source=EDGE_DEVICE,
    alias="",
    table=True,
)


def sources() -> dict[str, Source]:
    """A query source per component, its series per `instance`."""
    return {c: Source(health_fields(c), SCOPES[c], by=("instance",)) for c in HEALTH_COMPONENTS}


def variables() -> list[JSON]:
    """Gateway; site, then edge agent: the instances of the health lines."""
    return [
        g.query_variable(
            "gateway", "Gateway", show_tag_values(HEALTH, "instance", [is_component(GATEWAY)])
        ),
        g.query_variable("site", "Site", show_tag_values(HEALTH, "site", [is_component(EDGE)])),
        g.query_variable(
            "agent", "Edge agent", show_tag_values(HEALTH, "instance", [is_component(EDGE), SITE])
        ),
    ]
