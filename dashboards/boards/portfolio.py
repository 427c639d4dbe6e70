"""Portfolio overview: every building at a glance."""

from __future__ import annotations

from dataclasses import replace

from dashboards import grafana as g
from dashboards.boards.common import event_annotations
from dashboards.boards.lighting import failed_lamps
from dashboards.boards.work_orders import (
    ANY_IS_IDLE,
    BUILDINGS,
    BUILDINGS_TABLE,
    BY_PRIORITY,
    GOOD_ORDER,
    INDICATORS,
    NONE_IS_GOOD,
    PER_BUILDING,
    PERCENT_TARGET_100,
    PRIORITY_OVERRIDES,
    count_now,
)
from dashboards.boards.work_orders import sources as work_order_sources
from dashboards.dashboard import Dashboard
from dashboards.influxql import BUILDING, SITE, measurements_regex, show_tag_values
from dashboards.measurements import EVENTS, WORK_ORDERS, event_fields
from dashboards.panels import (
    HIDE_TIME,
    STAT,
    STATE,
    TABLE,
    TIMESERIES,
    Board,
    Combined,
    EnumStates,
    Panel,
    Row,
    Rows,
    Series,
    Source,
    add_panels,
)
from dashboards.profiles import FieldSet
from plantroom.kinds import KINDS

UID = "plantroom-portfolio"
SCOPE = (SITE, BUILDING)
PER_EQUIPMENT = ("building", "equipment")
WHERE_ALIAS = "$tag_building $tag_equipment"
STATUS_KINDS = ("elevator", "pump", "fire_panel")


def status(kind: str, field: str, title: str) -> Panel:
    """The latest state of every piece of equipment of one kind."""
    return Panel(
        viz=STATE,
        title=title,
        queries=Series(
            f"last({{{field}:string}})", source=kind, fill="previous", alias=WHERE_ALIAS
        ),
        description=f"Latest {field.replace('_', ' ')} of every {kind.replace('_', ' ')}"
        " in the selected buildings.",
        states=EnumStates(field, source=kind),
        w=12,
        h=8,
    )


IN_BUILDINGS = "in the selected buildings"
PER_SITE = ("site",)
GOOD = tuple(field for field, _, _, _ in INDICATORS)

# The sites side by side (docs/sites.md): each one's jobs, its buildings summed, and its
# good order, the mean of its buildings' figures.
SITES_TABLE = Panel(
    viz=TABLE,
    title="Sites side by side",
    queries=[
        Combined(
            GOOD,
            combine="mean",
            per=PER_SITE,
            by=PER_BUILDING,
            source=BUILDINGS,
            alias="",
            table=True,
        ),
        Combined(("open", "overdue"), per=PER_SITE, source=BUILDINGS, alias="", table=True),
    ],
    description="Each selected site: its open and overdue work orders (its buildings summed)"
    " and its equipment, fire facilities and lighting in good order (the mean of its"
    " buildings' latest figures).",
    look=g.Look(color_mode="thresholds", thresholds=PERCENT_TARGET_100, decimals=0),
    transformations=[HIDE_TIME, {"id": "merge", "options": {}}],  # one row per site
    overrides=[
        *(
            g.override(
                field,
                unit="percent",
                decimals=1,
                cell_type={"type": "color-text"},
                display_name=title,
            )
            for field, title, _, _ in INDICATORS
        ),
        g.override("overdue", cell_type={"type": "color-text"}, thresholds=NONE_IS_GOOD),
    ],
    w=24,
    h=6,
)
BOARD: Board = [
    Row("Work orders"),
    Panel(
        viz=STAT,
        title="Open work orders by priority",
        queries=Combined("open", per=("priority",), source=BUILDINGS, alias=BY_PRIORITY),
        description="Work orders not yet resolved, per priority, in the selected buildings.",
        look=g.Look(decimals=0, color_mode="fixed"),
        overrides=PRIORITY_OVERRIDES,
        w=12,
        h=5,
    ),
    count_now("overdue", "Overdue", NONE_IS_GOOD, IN_BUILDINGS, 6, 5, BUILDINGS),
    count_now("acknowledged", "Acknowledged", ANY_IS_IDLE, IN_BUILDINGS, 6, 5, BUILDINGS),
    Row("Sites"),
    SITES_TABLE,
    Row("Good order"),
    *GOOD_ORDER,
    replace(BUILDINGS_TABLE, h=7),
    Row("Equipment status"),
    status("elevator", "mode", "Lifts: mode"),
    status("pump", "run_state", "Pumps: run state"),
    status("fire_panel", "panel_state", "Fire panels: state"),
    Panel(
        viz=TIMESERIES,
        title="Lighting: failed lamps",
        queries=Series(failed_lamps, source="lighting", fill="previous", alias=WHERE_ALIAS),
        description="Failed lamps on each lighting controller.",
        look=g.Look(decimals=0, min=0),
        steps=True,
        fill=0,
        w=12,
        h=8,
    ),
    Row("Events"),
    Panel(
        viz=TABLE,
        title="Latest alarms and work-order events",
        queries=Rows(
            '"type", {priority:string}, "building", "equipment", {text:string}',
            source=EVENTS,
            alias="",
            table=True,
        ),
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
        w=24,
        h=9,
    ),
]


def sources(kinds: dict[str, FieldSet]) -> dict[str, Source]:
    """Work orders over whole buildings, each kind's points per equipment, and the events."""
    equipment = {k: Source(kinds[k], SCOPE, by=PER_EQUIPMENT) for k in (*STATUS_KINDS, "lighting")}
    return {
        BUILDINGS: work_order_sources()[BUILDINGS],
        **equipment,
        EVENTS: Source(event_fields(), SCOPE),
    }


def build(kinds: dict[str, FieldSet]) -> Dashboard:
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
    return add_panels(d, BOARD, sources(kinds))
