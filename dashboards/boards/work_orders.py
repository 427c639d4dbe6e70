"""Work-order KPIs: the backlog, response and repair times, SLA and the estate's indicators."""

from __future__ import annotations

from dataclasses import replace

from dashboards import grafana as g
from dashboards.boards.common import event_annotations
from dashboards.dashboard import Dashboard
from dashboards.influxql import BUILDING, SITE, ident, show_tag_values, tag_var
from dashboards.measurements import PRIORITIES, WORK_ORDERS, work_order_fields
from dashboards.panels import (
    GAUGE,
    HIDE_TIME,
    STAT,
    TABLE,
    TIMESERIES,
    Board,
    Combined,
    Latest,
    Panel,
    Row,
    Series,
    Source,
    add_panels,
)

UID = "plantroom-work-orders"
PRIORITY = tag_var("priority")
WO_KIND = tag_var("kind", "wo_kind")
SCOPE = (SITE, BUILDING, PRIORITY, WO_KIND)
SERIES = ("site", "building", "priority", "kind")
PER_BUILDING = SERIES[:2]
BY_PRIORITY = "$tag_priority"
PERCENT_TARGET_100 = g.thresholds((None, g.BAD), (95, g.WARN), (100, g.GOOD))
PERCENT_TARGET_99 = g.thresholds((None, g.BAD), (95, g.WARN), (99, g.GOOD))
NONE_IS_GOOD = g.thresholds((None, g.GOOD), (1, g.BAD))
ANY_IS_IDLE = g.thresholds((None, g.IDLE))
PERCENT = g.Look(
    unit="percent", decimals=1, min=0, max=100, color_mode="thresholds", thresholds=None
)

# The source every board's estate-wide panels read: whole buildings, every priority and kind.
BUILDINGS = "buildings"

# The estate's indicators (docs/service-standards.md), each with its target.
INDICATORS: tuple[tuple[str, str, str, g.JSON], ...] = (
    ("equipment_good_pct", "Equipment in good order", "target 100%", PERCENT_TARGET_100),
    ("fire_good_pct", "Fire facilities in good order", "target 100%", PERCENT_TARGET_100),
    ("lighting_good_pct", "Lighting in good order", "target 100%", PERCENT_TARGET_100),
)
PRIORITY_OVERRIDES = [
    g.override(p, color={"mode": "fixed", "fixedColor": c})
    for p, c in zip(PRIORITIES, (g.BAD, g.WARN, g.IDLE, g.GOOD), strict=True)
]


def sources() -> dict[str, Source]:
    """The work-order metrics in the selection (main), and over whole buildings."""
    fields = work_order_fields()
    return {
        "": Source(fields, SCOPE, by=SERIES),
        BUILDINGS: Source(fields, (SITE, BUILDING), by=SERIES),
    }


def count_now(
    field: str, title: str, steps: g.JSON, where: str, w: int, h: int, source: str = ""
) -> Panel:
    """How many work orders are `field` now, summed over the selection."""
    return Panel(
        viz=STAT,
        title=title,
        queries=Combined(field, alias=title, source=source),
        description=f"Work orders {title.lower()} now, {where}.",
        look=g.Look(decimals=0, color_mode="thresholds", thresholds=steps),
        w=w,
        h=h,
    )


def trend(field: str, title: str) -> Panel:
    """A count per priority over time."""
    return Panel(
        viz=TIMESERIES,
        title=title,
        queries=Combined(field, per=("priority",), per_interval=True, alias=BY_PRIORITY),
        description=f"Work orders {field.replace('_', ' ')} per priority over time.",
        look=g.Look(decimals=0, min=0),
        steps=True,
        overrides=PRIORITY_OVERRIDES,
        w=12,
        h=8,
    )


# The three good-order gauges and the on-time-repairs gauge, over whole buildings.
GOOD_ORDER: Board = [
    *(
        Panel(
            viz=GAUGE,
            title=title,
            # Mean over buildings of each building's latest value of a building-level figure.
            queries=Combined(field, combine="mean", by=PER_BUILDING, source=BUILDINGS, alias=title),
            description=f"Mean over the selected buildings of the latest figure; {target}.",
            look=replace(PERCENT, thresholds=steps),
            w=6,
            h=7,
        )
        for field, title, target, steps in INDICATORS
    ),
    Panel(
        viz=GAUGE,
        title="Repairs completed on time",
        queries=Combined("sla_compliance_pct", combine="mean", source=BUILDINGS, alias="on time"),
        description="Share of work orders resolved within their SLA (target at least 99%).",
        look=replace(PERCENT, thresholds=PERCENT_TARGET_99),
        w=6,
        h=7,
    ),
]

# One row per building: its good-order figures and its open and overdue work orders.
BUILDINGS_TABLE = Panel(
    viz=TABLE,
    title="Buildings",
    queries=[
        Latest(
            ", ".join(
                f"last({{{field}:number}}) AS {ident(title)}" for field, title, _, _ in INDICATORS
            ),
            by=PER_BUILDING,
            source=BUILDINGS,
            alias="",
            table=True,
        ),
        Combined(("open", "overdue"), per=PER_BUILDING, source=BUILDINGS, alias="", table=True),
    ],
    description="Each building's latest good-order figures with its open and overdue work orders.",
    look=g.Look(color_mode="thresholds", thresholds=PERCENT_TARGET_100, decimals=0),
    transformations=[
        # Both queries give one row per building; drop their range-start times so that
        # merge joins the rows on site and building.
        HIDE_TIME,
        {"id": "merge", "options": {}},
    ],
    overrides=[
        *(
            g.override(title, unit="percent", decimals=1, cell_type={"type": "color-text"})
            for _, title, _, _ in INDICATORS
        ),
        g.override("overdue", cell_type={"type": "color-text"}, thresholds=NONE_IS_GOOD),
    ],
    w=24,
    h=8,
)

SELECTION = "all selected buildings, priorities and kinds"
BOARD: Board = [
    Row("Backlog now"),
    count_now("open", "Open", ANY_IS_IDLE, SELECTION, 6, 4),
    count_now("acknowledged", "Acknowledged", ANY_IS_IDLE, SELECTION, 6, 4),
    count_now("in_progress", "In progress", ANY_IS_IDLE, SELECTION, 6, 4),
    count_now("overdue", "Overdue", NONE_IS_GOOD, SELECTION, 6, 4),
    Row("Trends"),
    trend("open", "Open by priority"),
    trend("overdue", "Overdue by priority"),
    Panel(
        viz=TIMESERIES,
        title="Mean time to acknowledge and to repair",
        queries=Series(
            'mean({mtta_s:number}) AS "MTTA", mean({mttr_s:number}) AS "MTTR"',
            by=("priority",),
            alias="$tag_priority $col",
        ),
        description="MTTA: raised → acknowledged (the three-minute dispatch commitment). "
        "MTTR: raised → resolved.",
        look=g.Look(unit="s", decimals=0, min=0),
        w=12,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="SLA compliance",
        queries=Series(
            'mean({sla_compliance_pct:number}) AS "SLA"', by=("priority",), alias=BY_PRIORITY
        ),
        description="Share of work orders resolved within their SLA (target at least 99%).",
        look=g.Look(unit="percent", decimals=1, max=100, thresholds=PERCENT_TARGET_99),
        threshold_line=True,
        overrides=PRIORITY_OVERRIDES,
        w=12,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Told and acknowledged within the dispatch time",
        queries=Series(
            'mean({dispatched_pct:number}) AS "told", '
            'mean({ack_in_dispatch_pct:number}) AS "acknowledged"',
            by=("priority",),
            alias="$tag_priority $col",
        ),
        description="Of the jobs someone was told of by message, the share whose first "
        "message was delivered, and the share acknowledged, within the SLA's dispatch time "
        "(3 minutes) of raising.",
        look=g.Look(unit="percent", decimals=1, min=0, max=100),
        w=24,
        h=8,
    ),
    Row("Service indicators"),
    *GOOD_ORDER,
    Panel(
        viz=TIMESERIES,
        title="Follow-ups, complaints and satisfaction",
        queries=[
            Series(
                'last({follow_up_pct:number}) AS "follow-up visits %", '
                'last({complaint_pct:number}) AS "upheld complaints %"',
                by=("building",),
                alias="$tag_building $col",
                fill="previous",
            ),
            Series(
                'last({satisfaction:number}) AS "satisfaction (1-5)"',
                by=("building",),
                alias="$tag_building $col",
                fill="previous",
            ),
        ],
        description="Per building, over the trailing window: the share of repairs with a "
        "follow-up visit or call recorded (target at least 30%), upheld complaints per "
        "repair (target at most 2%), and reporters' mean satisfaction from follow-up calls "
        "(1 to 5; docs/requests.md).",
        look=g.Look(decimals=1, min=0),
        w=24,
        h=8,
    ),
    BUILDINGS_TABLE,
]


def build() -> Dashboard:
    d = Dashboard(
        UID,
        "Plantroom · Work orders",
        "Work-order KPIs for the selection: open, acknowledged, in progress and overdue work "
        "orders, mean time to acknowledge and to repair, SLA compliance and the estate's "
        "good-order indicators.",
        tags=("work orders", WORK_ORDERS),
        variables=[
            g.query_variable("site", "Site", show_tag_values(WORK_ORDERS, "site")),
            g.query_variable(
                "building", "Building", show_tag_values(WORK_ORDERS, "building", [SITE])
            ),
            g.query_variable(
                "priority",
                "Priority",
                show_tag_values(WORK_ORDERS, "priority", [SITE, BUILDING]),
            ),
            g.query_variable(
                "wo_kind", "Kind", show_tag_values(WORK_ORDERS, "kind", [SITE, BUILDING])
            ),
        ],
        annotations=event_annotations(equipment=False),
        time_from="now-7d",
        refresh="1m",
    )
    return add_panels(d, BOARD, sources())
