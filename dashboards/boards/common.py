"""What the dashboards share: scope variables, event annotations, state colours."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import grafana as g
from dashboards.grafana import JSON
from dashboards.influxql import (
    BUILDING,
    EQUIPMENT,
    SITE,
    TIME_FILTER,
    show_tag_values,
)
from dashboards.measurements import EVENTS

# The colour of a state label wherever it appears; labels not listed take the caller's default.
STATE_COLORS: dict[str, str] = {
    "normal": g.GOOD,
    "none": g.GOOD,
    "running": g.GOOD,
    "closed": g.GOOD,
    "idle": g.GOOD,
    "up": g.IDLE,
    "down": g.IDLE,
    "opening": g.IDLE,
    "open": g.IDLE,
    "closing": g.IDLE,
    "stopped": g.OFF,
    "inspection": g.NOTICE,
    "supervisory": g.NOTICE,
    "out_of_service": g.WARN,
    "pre_alarm": g.WARN,
    "disabled": g.MUTED,
    "fault": g.BAD,
    "alarm": g.BAD,
    "fire_service": g.BAD,
}


def enum_mappings(labels: Sequence[str], default: str = g.WARN) -> list[JSON]:
    """Colour every label of an enum point; labels without a fixed colour take `default`."""
    return g.value_mappings({label: STATE_COLORS.get(label, default) for label in labels})


def scope_variables(measurement: str, *, equipment: bool) -> list[JSON]:
    """site → building (→ equipment) chained `SHOW TAG VALUES` variables over `measurement`."""
    variables = [
        g.query_variable("site", "Site", show_tag_values(measurement, "site")),
        g.query_variable("building", "Building", show_tag_values(measurement, "building", [SITE])),
    ]
    if equipment:
        variables.append(
            g.query_variable(
                "equipment",
                "Equipment",
                show_tag_values(measurement, "equipment", [SITE, BUILDING]),
            )
        )
    return variables


def event_annotations(*, equipment: bool) -> list[JSON]:
    """Alarms, work-order events and maintenance windows (regions, from their start to their
    end) from the `events` measurement, filtered to the scope."""
    scope = [SITE, BUILDING, *([EQUIPMENT] if equipment else [])]
    columns = '"text", "priority", "type", "equipment", "building"'

    def query(type_regex: str, extra: str = "") -> str:
        conds = " AND ".join([f'"type" =~ /{type_regex}/', *scope, TIME_FILTER])
        return f'SELECT {columns}{extra} FROM "{EVENTS}" WHERE {conds}'

    return [
        g.annotation(
            "Alarms", query("^alarm_"), "red", tags_column="type,priority,equipment,building"
        ),
        g.annotation(
            "Work orders", query("^wo_"), "blue", tags_column="type,priority,equipment,building"
        ),
        g.annotation(
            "Maintenance",
            query("^maintenance$", ', "time_end_ms"'),
            "purple",
            tags_column="type,equipment,building",
            time_end_column="time_end_ms",
        ),
    ]
