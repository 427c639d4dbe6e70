"""Work-order KPIs: the backlog, response and repair times, SLA and the estate's indicators."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import grafana as g
from dashboards.boards.common import event_annotations
from dashboards.dashboard import Dashboard
from dashboards.influxql import (
    BUILDING,
    SITE,
    combine_latest,
    ident,
    latest,
    over_time,
    show_tag_values,
    tag_var,
)
from dashboards.measurements import PRIORITIES, WORK_ORDERS, work_order_fields

UID = "plantroom-work-orders"
PRIORITY = tag_var("priority")
WO_KIND = tag_var("kind", "wo_kind")
SCOPE = (SITE, BUILDING, PRIORITY, WO_KIND)
SERIES = ("site", "building", "priority", "kind")
NUMBER = ("integer", "float")
PRIORITY_COLORS = dict(zip(PRIORITIES, (g.BAD, g.WARN, g.IDLE, g.GOOD), strict=True))
PERCENT_TARGET_100 = g.thresholds((None, g.BAD), (95, g.WARN), (100, g.GOOD))
PERCENT_TARGET_99 = g.thresholds((None, g.BAD), (95, g.WARN), (99, g.GOOD))

# The estate's indicators (docs/service-standards.md), each with its target.
INDICATORS: tuple[tuple[str, str, str, g.JSON], ...] = (
    ("equipment_good_pct", "Equipment in good order", "target 100%", PERCENT_TARGET_100),
    ("fire_good_pct", "Fire facilities in good order", "target 100%", PERCENT_TARGET_100),
    ("lighting_good_pct", "Lighting in good order", "target 100%", PERCENT_TARGET_100),
)


def priority_overrides() -> list[g.JSON]:
    return [
        g.override(p, color={"mode": "fixed", "fixedColor": c}) for p, c in PRIORITY_COLORS.items()
    ]


def building_mean_of_latest(field: str) -> str:
    """Mean over buildings of each building's latest value of a building-level figure."""
    return combine_latest([field], WORK_ORDERS, (SITE, BUILDING), series=SERIES[:2], combine="mean")


def indicator_gauges(d: Dashboard, width: int, height: int) -> None:
    """The three good-order gauges and the on-time-repairs gauge."""
    w = work_order_fields()
    for field, title, target_text, steps in INDICATORS:
        d.add(
            g.gauge(
                title,
                [g.target(building_mean_of_latest(w.check(field, *NUMBER)), alias=title)],
                description=f"Mean over the selected buildings of the latest figure; "
                f"{target_text}.",
                look=g.Look(
                    unit="percent",
                    decimals=1,
                    min=0,
                    max=100,
                    color_mode="thresholds",
                    thresholds=steps,
                ),
            ),
            width,
            height,
        )
    on_time = combine_latest(
        [w.check("sla_compliance_pct", *NUMBER)],
        WORK_ORDERS,
        (SITE, BUILDING),
        series=SERIES,
        combine="mean",
    )
    d.add(
        g.gauge(
            "Repairs completed on time",
            [g.target(on_time, alias="on time")],
            description="Share of work orders resolved within their SLA (target at least 99%).",
            look=g.Look(
                unit="percent",
                decimals=1,
                min=0,
                max=100,
                color_mode="thresholds",
                thresholds=PERCENT_TARGET_99,
            ),
        ),
        width,
        height,
    )


def buildings_table(conds: Sequence[str] = (SITE, BUILDING)) -> g.JSON:
    """One row per building: its good-order figures and its open and overdue work orders."""
    w = work_order_fields()
    rates = ", ".join(
        f"last({w.f(field, *NUMBER)}) AS {ident(title)}" for field, title, _, _ in INDICATORS
    )
    counts = combine_latest(
        [w.check("open", *NUMBER), w.check("overdue", *NUMBER)],
        WORK_ORDERS,
        conds,
        series=SERIES,
        by=SERIES[:2],
    )
    percent = [
        g.override(title, unit="percent", decimals=1, cell_type={"type": "color-text"})
        for _, title, _, _ in INDICATORS
    ]
    return g.table(
        "Buildings",
        [
            g.target(latest(rates, WORK_ORDERS, conds, by=SERIES[:2]), table=True),
            g.target(counts, table=True),
        ],
        description="Each building's latest good-order figures with its open and overdue "
        "work orders.",
        look=g.Look(color_mode="thresholds", thresholds=PERCENT_TARGET_100, decimals=0),
        transformations=[
            # Both queries give one row per building; drop their range-start times so that
            # merge joins the rows on site and building.
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            {"id": "merge", "options": {}},
        ],
        overrides=[
            *percent,
            g.override(
                "overdue",
                cell_type={"type": "color-text"},
                thresholds=g.thresholds((None, g.GOOD), (1, g.BAD)),
            ),
        ],
    )


def build() -> Dashboard:
    w = work_order_fields()
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

    d.row("Backlog now")
    for field, title, bad_from in (
        ("open", "Open", None),
        ("acknowledged", "Acknowledged", None),
        ("in_progress", "In progress", None),
        ("overdue", "Overdue", 1),
    ):
        steps = (
            g.thresholds((None, g.GOOD), (bad_from, g.BAD))
            if bad_from is not None
            else g.thresholds((None, g.IDLE))
        )
        d.add(
            g.stat(
                title,
                [
                    g.target(
                        combine_latest(
                            [w.check(field, *NUMBER)], WORK_ORDERS, SCOPE, series=SERIES
                        ),
                        alias=title,
                    )
                ],
                description=f"Work orders {title.lower()} now, all selected buildings, "
                "priorities and kinds.",
                look=g.Look(decimals=0, color_mode="thresholds", thresholds=steps),
                graph=False,
            ),
            6,
            4,
        )

    d.row("Trends")
    for field, title in (("open", "Open by priority"), ("overdue", "Overdue by priority")):
        trend = combine_latest(
            [w.check(field, *NUMBER)],
            WORK_ORDERS,
            SCOPE,
            series=SERIES,
            by=("priority",),
            over_time_buckets=True,
        )
        panel = g.timeseries(
            title,
            [g.target(trend, alias="$tag_priority")],
            description=f"Work orders {field.replace('_', ' ')} per priority over time.",
            look=g.Look(decimals=0, min=0),
            steps=True,
        )
        panel["fieldConfig"]["overrides"] = priority_overrides()
        d.add(panel, 12, 8)
    times = over_time(
        f'mean({w.f("mtta_s", *NUMBER)}) AS "MTTA", mean({w.f("mttr_s", *NUMBER)}) AS "MTTR"',
        WORK_ORDERS,
        SCOPE,
        by=("priority",),
    )
    d.add(
        g.timeseries(
            "Mean time to acknowledge and to repair",
            [g.target(times, alias="$tag_priority $col")],
            description="MTTA: raised → acknowledged (the three-minute dispatch commitment). "
            "MTTR: raised → resolved.",
            look=g.Look(unit="s", decimals=0, min=0),
        ),
        12,
        8,
    )
    sla = over_time(
        f'mean({w.f("sla_compliance_pct", *NUMBER)}) AS "SLA"', WORK_ORDERS, SCOPE, by=("priority",)
    )
    sla_panel = g.timeseries(
        "SLA compliance",
        [g.target(sla, alias="$tag_priority")],
        description="Share of work orders resolved within their SLA (target at least 99%).",
        look=g.Look(unit="percent", decimals=1, max=100, thresholds=PERCENT_TARGET_99),
        threshold_line=True,
    )
    sla_panel["fieldConfig"]["overrides"] = priority_overrides()
    d.add(sla_panel, 12, 8)

    d.row("Service indicators")
    indicator_gauges(d, 6, 7)
    d.add(buildings_table(), 24, 8)
    return d
