"""What every equipment board shares: one kind's profile points as its source, scoped by the
site → building → equipment variables, with the alarm and work-order events overlaid; and the
panels the boards are made of: an enum's state, boolean signals, a latest label, a number
per equipment, a count held as steps, a row of measured trends, and the counters (run hours,
a counter's increase). A single trend is `panels.trend` over a `Series`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboards import grafana as g
from dashboards.boards.common import event_annotations, scope_variables
from dashboards.dashboard import Dashboard
from dashboards.grafana import JSON
from dashboards.influxql import BUILDING, EQUIPMENT, SITE
from dashboards.panels import (
    EQUIPMENT_COLUMN_ALIAS,
    STAT,
    STATE,
    TIMESERIES,
    Board,
    EnumStates,
    Latest,
    Panel,
    Select,
    Series,
    Source,
    add_panels,
    counter_bars,
    trend,
)
from dashboards.profiles import FieldSet

SCOPE = (SITE, BUILDING, EQUIPMENT)


@dataclass(frozen=True)
class EquipmentBoard:
    """One kind's dashboard: its identity and text, and the panels it is made of."""

    uid: str
    kind: str
    title: str
    description: str
    tags: Sequence[str]
    board: Board

    def build(self, kinds: dict[str, FieldSet]) -> Dashboard:
        """The dashboard of the board's panels over the points of its kind."""
        d = Dashboard(
            self.uid,
            self.title,
            self.description,
            tags=(*self.tags, self.kind),
            variables=scope_variables(self.kind, equipment=True),
            annotations=event_annotations(equipment=True),
        )
        return add_panels(d, self.board, {"": Source(kinds[self.kind], SCOPE)})


def booleans(names: Sequence[str]) -> Series:
    """The latest value of each boolean field, one column each, held until it changes."""
    return Series(
        ", ".join(f"last({{{name}:boolean}}) AS {{{name}}}" for name in names),
        fill="previous",
        alias=EQUIPMENT_COLUMN_ALIAS,
    )


def figure(
    title: str, select: str, description: str, look: g.Look, *, w: int = 12, h: int = 4
) -> Panel:
    """One number per equipment: `select` over the time range, such as
    `last({run_hours:number})`."""
    return Panel(
        viz=STAT,
        title=title,
        queries=Latest(select),
        description=description,
        look=look,
        w=w,
        h=h,
    )


def run_hours(w: int, h: int) -> Panel:
    """The running-hours counter, latest value per equipment."""
    return figure(
        "Run hours",
        "last({run_hours:number})",
        "Running-hours counter, the basis of runtime-based maintenance.",
        g.Look(unit="h", decimals=0, color_mode="fixed"),
        w=w,
        h=h,
    )


def counted_in_range(title: str, counter: str, description: str, w: int, h: int) -> Panel:
    """How much a counter grew over the time range, per equipment."""
    return figure(
        title,
        f"spread({{{counter}:number}})",
        description,
        g.Look(decimals=0, color_mode="fixed"),
        w=w,
        h=h,
    )


def per_interval(title: str, counter: str, description: str, w: int, h: int) -> Panel:
    """A counter's increase per interval, as bars summed in the legend."""
    return counter_bars(
        title,
        Series(f"non_negative_difference(max({{{counter}:number}}))"),
        description,
        w=w,
        h=h,
    )


def state(
    title: str, field: str, description: str, *, default: str = g.WARN, w: int = 12, h: int = 8
) -> Panel:
    """An enum point's state over time, each label in its colour (`default` for the others)."""
    return Panel(
        viz=STATE,
        title=title,
        queries=Series(f"last({{{field}:state}})", fill="previous"),
        description=description,
        states=EnumStates(field, default=default),
        w=w,
        h=h,
    )


def signals(
    title: str,
    names: Sequence[str],
    description: str,
    states: list[JSON],
    *,
    w: int,
    h: int,
    row_height: float = 0.8,
) -> Panel:
    """Boolean signals over time, one lane per equipment and signal."""
    return Panel(
        viz=STATE,
        title=title,
        queries=booleans(names),
        description=description,
        states=states,
        row_height=row_height,
        w=w,
        h=h,
    )


def latest_label(
    title: str,
    select: str,
    description: str,
    states: EnumStates | list[JSON],
    *,
    w: int = 12,
    h: int = 4,
) -> Panel:
    """The latest label (an enum's or a boolean's) per equipment, coloured."""
    return Panel(
        viz=STAT,
        title=title,
        queries=Latest(select),
        description=description,
        states=states,
        strings=True,
        w=w,
        h=h,
    )


def stepped(
    title: str, select: Select, description: str, look: g.Look, *, w: int = 12, h: int = 8
) -> Panel:
    """A count or a position held until it changes (a floor, failed lamps), drawn as steps
    without fill."""
    return Panel(
        viz=TIMESERIES,
        title=title,
        queries=Series(select, fill="previous"),
        description=description,
        look=look,
        steps=True,
        fill=0,
        w=w,
        h=h,
    )


TrendSpec = tuple[str, str, str, g.Look]
"""A measured value's trend: its title, select (such as `mean({flow:number})`), description
and look."""


def trends(*specs: TrendSpec, w: int, h: int = 8) -> list[Panel]:
    """Several trends of one size side by side, such as a row of thirds."""
    return [
        trend(title, Series(select), description, look, w=w, h=h)
        for title, select, description, look in specs
    ]
