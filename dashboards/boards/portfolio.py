"""Portfolio overview: every building at a glance."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.common import enum_mappings, event_annotations
from dashboards.boards.work_orders import (
    SERIES,
    buildings_table,
    indicator_gauges,
    priority_overrides,
)
from dashboards.dashboard import Dashboard
from dashboards.influxql import (
    BUILDING,
    SITE,
    combine_latest,
    ident,
    measurements_regex,
    over_time,
    show_tag_values,
    where,
)
from dashboards.measurements import EVENTS, WORK_ORDERS, work_order_fields
from dashboards.profiles import FieldSet
from plantroom.kinds import KINDS

UID = "plantroom-portfolio"
SCOPE = (SITE, BUILDING)
NUMBER = ("integer", "float")
WHERE_ALIAS = "$tag_building $tag_equipment"


def build(kinds: dict[str, FieldSet]) -> Dashboard:
    w = work_order_fields()
    everything = measurements_regex([*KINDS, WORK_ORDERS])
    d = Dashboard(
        UID,
        "Plantroom · Portfolio overview",
        "Every building of the portfolio: open work orders by priority, equipment, fire and "
        "lighting in good order, the state of each lift, pump and fire panel, and the latest "
        "alarms and work-order events.",
        tags=("overview",),
        variables=[
            g.query_variable("site", "Site", show_tag_values(everything, "site")),
            g.query_variable(
                "building", "Building", show_tag_values(everything, "building", [SITE])
            ),
        ],
        annotations=event_annotations(equipment=False),
        time_from="now-24h",
        refresh="1m",
    )

    d.row("Work orders")
    open_by_priority = combine_latest(
        [w.check("open", *NUMBER)], WORK_ORDERS, SCOPE, series=SERIES, by=("priority",)
    )
    by_priority = g.stat(
        "Open work orders by priority",
        [g.target(open_by_priority, alias="$tag_priority")],
        description="Work orders not yet resolved, per priority, in the selected buildings.",
        look=g.Look(decimals=0, color_mode="fixed"),
    )
    by_priority["fieldConfig"]["overrides"] = priority_overrides()
    d.add(by_priority, 12, 5)
    for field, title in (("overdue", "Overdue"), ("acknowledged", "Acknowledged")):
        steps = (
            g.thresholds((None, g.GOOD), (1, g.BAD))
            if field == "overdue"
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
                description=f"Work orders {title.lower()} now, in the selected buildings.",
                look=g.Look(decimals=0, color_mode="thresholds", thresholds=steps),
            ),
            6,
            5,
        )

    d.row("Good order")
    indicator_gauges(d, 6, 7)
    d.add(buildings_table(), 24, 7)

    d.row("Equipment status")
    for kind, field, title in (
        ("elevator", "mode", "Lifts: mode"),
        ("pump", "run_state", "Pumps: run state"),
        ("fire_panel", "panel_state", "Fire panels: state"),
    ):
        p = kinds[kind]
        q = over_time(
            f"last({p.f(field, 'string')})",
            kind,
            SCOPE,
            by=("building", "equipment"),
            fill="previous",
        )
        d.add(
            g.state_timeline(
                title,
                [g.target(q, alias=WHERE_ALIAS)],
                description=f"Latest {field.replace('_', ' ')} of every {kind.replace('_', ' ')}"
                " in the selected buildings.",
                mappings=enum_mappings(p.enum(field)),
            ),
            12,
            8,
        )
    light = kinds["lighting"]
    failed = " + ".join(
        f"last({light.f(f'circuit_{n}_failed_lamps', *NUMBER)})"
        for n in light.numbered("circuit_{n}_failed_lamps")
    )
    d.add(
        g.timeseries(
            "Lighting: failed lamps",
            [
                g.target(
                    over_time(
                        f'{failed} AS "failed lamps"',
                        "lighting",
                        SCOPE,
                        by=("building", "equipment"),
                        fill="previous",
                    ),
                    alias=WHERE_ALIAS,
                )
            ],
            description="Failed lamps on each lighting controller.",
            look=g.Look(decimals=0, min=0),
            steps=True,
            fill=0,
        ),
        12,
        8,
    )

    d.row("Events")
    events = (
        f'SELECT "type", "priority", {ident("building")}, {ident("equipment")}, "text" '
        f'FROM "{EVENTS}" WHERE {where(SCOPE)} ORDER BY time DESC LIMIT 100'
    )
    d.add(
        g.table(
            "Latest alarms and work-order events",
            [g.target(events, table=True)],
            description="The last hundred alarm and work-order events in the time range.",
            look=g.Look(
                mappings=g.value_mappings(
                    {
                        "alarm_raised": g.BAD,
                        "alarm_cleared": g.GOOD,
                        "wo_raised": g.WARN,
                        "wo_acknowledged": g.IDLE,
                        "wo_resolved": g.GOOD,
                    }
                )
            ),
            overrides=[g.override("type", cell_type={"type": "color-text"})],
        ),
        24,
        9,
    )
    return d
