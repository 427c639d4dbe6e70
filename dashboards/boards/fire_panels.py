"""Fire alarm panels: panel and zone states, mains and battery, alarm signals."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.equipment import EquipmentBoard, figure, signals, state
from dashboards.panels import (
    EQUIPMENT_COLUMN_ALIAS,
    HIDE_TIME,
    STATE,
    TABLE,
    TIMESERIES,
    Board,
    EnumStates,
    Latest,
    Panel,
    Row,
    Series,
    trend,
)
from dashboards.profiles import FieldSet

UID = "plantroom-fire-panels"
KIND = "fire_panel"
SIGNALS = ("fire_alarm", "trouble", "supervisory", "zone_disabled")
LIFE_SAFETY = EnumStates("panel_state")
ONE_IS_BAD = g.thresholds((None, g.GOOD), (1, g.BAD))


def _zones(p: FieldSet) -> str:
    """Every zone's latest state, as many zones as the profiles define."""
    return ", ".join(f'last({{zone_{n}:string}}) AS "zone {n}"' for n in p.numbered("zone_{n}"))


BOARD: Board = [
    Row("Status"),
    state(
        "Panel state",
        "panel_state",
        "Overall panel state (life-safety states: normal, pre-alarm, alarm, "
        "fault, supervisory, disabled).",
    ),
    Panel(
        viz=TABLE,
        title="Zone states now",
        queries=Latest(
            lambda p: f'last({{panel_state:string}}) AS "panel", {_zones(p)}',
            by=("building", "equipment"),
            alias="",
            table=True,
        ),
        description="Latest state of each panel and each of its zones.",
        look=g.Look(color_mode="thresholds"),
        states=LIFE_SAFETY,
        transformations=[HIDE_TIME],
        overrides=[
            g.override(
                "^(panel|zone \\d+)$",
                regex=True,
                cell_type={"type": "color-background", "mode": "basic"},
            )
        ],
        w=12,
        h=8,
    ),
    Panel(
        viz=STATE,
        title="Zone states",
        queries=Series(_zones, fill="previous", alias=EQUIPMENT_COLUMN_ALIAS),
        description="State of every zone of every panel over time.",
        states=LIFE_SAFETY,
        row_height=0.9,
        w=24,
        h=12,
    ),
    Row("Power"),
    Panel(
        viz=STATE,
        title="Mains and battery",
        queries=Series(
            'last({mains_ok:boolean}) AS "mains", last({battery_ok:boolean}) AS "battery"',
            fill="previous",
            alias=EQUIPMENT_COLUMN_ALIAS,
        ),
        description="Mains supply and standby battery supervision.",
        states=g.bool_mappings("ok", g.GOOD, "FAIL", g.BAD),
        w=12,
        h=8,
    ),
    trend(
        "Battery voltage",
        Series("mean({battery_voltage:number})"),
        "Standby battery voltage (24 V system): below 24 V the battery cannot "
        "carry the panel through a mains failure for long.",
        g.Look(
            unit="volt",
            decimals=2,
            thresholds=g.thresholds((None, g.BAD), (24, g.WARN), (25.5, g.GOOD)),
        ),
    ),
    Row("Alarms"),
    signals(
        "Signals",
        SIGNALS,
        "Fire alarm, trouble, supervisory and zone-disabled signals.",
        g.bool_mappings("ACTIVE", g.BAD, "clear", g.GOOD),
        w=12,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Active alarms",
        queries=Series("last({active_alarms:number})", fill="previous"),
        description="Number of active alarm points on each panel.",
        look=g.Look(decimals=0, min=0, thresholds=ONE_IS_BAD),
        steps=True,
        w=12,
        h=8,
    ),
    figure(
        "Active alarms now",
        "last({active_alarms:number})",
        "Latest count of active alarm points, per panel.",
        g.Look(decimals=0, color_mode="thresholds", thresholds=ONE_IS_BAD),
        w=24,
    ),
]


SPEC = EquipmentBoard(
    UID,
    KIND,
    "Plantroom · Fire panels",
    "Every fire alarm panel in the selection: panel and zone states, mains and battery "
    "supervision, battery voltage and alarm signals.",
    ("fire",),
    BOARD,
)
