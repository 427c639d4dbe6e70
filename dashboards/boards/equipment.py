"""What every equipment board shares: one kind's profile points as its source, scoped by the
site → building → equipment variables, with the alarm and work-order events overlaid."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import grafana as g
from dashboards.boards.common import event_annotations, scope_variables
from dashboards.dashboard import Dashboard
from dashboards.influxql import BUILDING, EQUIPMENT, SITE
from dashboards.panels import (
    COUNTER_LEGEND,
    EQUIPMENT_COLUMN_ALIAS,
    STAT,
    TIMESERIES,
    Board,
    Latest,
    Panel,
    Series,
    Source,
    add_panels,
)
from dashboards.profiles import FieldSet

SCOPE = (SITE, BUILDING, EQUIPMENT)


def equipment_board(
    uid: str,
    kind: str,
    title: str,
    description: str,
    tags: Sequence[str],
    board: Board,
    kinds: dict[str, FieldSet],
) -> Dashboard:
    """The dashboard of `board`'s panels over the points of `kind`."""
    d = Dashboard(
        uid,
        title,
        description,
        tags=(*tags, kind),
        variables=scope_variables(kind, equipment=True),
        annotations=event_annotations(equipment=True),
    )
    return add_panels(d, board, {"": Source(kinds[kind], SCOPE)})


def booleans(names: Sequence[str]) -> Series:
    """The latest value of each boolean field, one column each, held until it changes."""
    return Series(
        ", ".join(f"last({{{name}:boolean}}) AS {{{name}}}" for name in names),
        fill="previous",
        alias=EQUIPMENT_COLUMN_ALIAS,
    )


def run_hours(w: int, h: int) -> Panel:
    """The running-hours counter, latest value per equipment."""
    return Panel(
        viz=STAT,
        title="Run hours",
        queries=Latest("last({run_hours:number})"),
        description="Running-hours counter, the basis of runtime-based maintenance.",
        look=g.Look(unit="h", decimals=0, color_mode="fixed"),
        w=w,
        h=h,
    )


def counted_in_range(title: str, counter: str, description: str, w: int, h: int) -> Panel:
    """How much a counter grew over the time range, per equipment."""
    return Panel(
        viz=STAT,
        title=title,
        queries=Latest(f"spread({{{counter}:number}})"),
        description=description,
        look=g.Look(decimals=0, color_mode="fixed"),
        w=w,
        h=h,
    )


def per_interval(title: str, counter: str, description: str, w: int, h: int) -> Panel:
    """A counter's increase per interval, as bars summed in the legend."""
    return Panel(
        viz=TIMESERIES,
        title=title,
        queries=Series(f"non_negative_difference(max({{{counter}:number}}))"),
        description=description,
        look=g.Look(decimals=0, min=0),
        bars=True,
        legend_calcs=COUNTER_LEGEND,
        w=w,
        h=h,
    )
