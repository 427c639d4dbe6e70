"""Lifts: mode and faults, position, trips, doors and the drive."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.equipment import counted_in_range, equipment_board, per_interval, run_hours
from dashboards.dashboard import Dashboard
from dashboards.panels import (
    COUNTER_LEGEND,
    STAT,
    STATE,
    TIMESERIES,
    Board,
    EnumStates,
    Latest,
    Panel,
    Row,
    Series,
)
from dashboards.profiles import FieldSet

UID = "plantroom-lifts"
KIND = "elevator"


def _states(field: str) -> Series:
    return Series(f"last({{{field}:state}})", fill="previous")


BOARD: Board = [
    Row("Status"),
    Panel(
        viz=STATE,
        title="Mode",
        queries=_states("mode"),
        description="Operating mode of each lift: normal service, out of service, "
        "inspection, fire service or stopped.",
        states=EnumStates("mode"),
        w=12,
        h=8,
    ),
    Panel(
        viz=STATE,
        title="Fault code",
        queries=_states("fault_code"),
        description="The controller's active fault; anything but none raises an alarm.",
        states=EnumStates("fault_code", default=g.BAD),
        w=12,
        h=8,
    ),
    Panel(
        viz=STAT,
        title="Passenger trapped",
        queries=Latest('last({passenger_trapped:boolean}) AS "trapped"'),
        description="Latest report of the trapped-passenger signal, per lift.",
        states=g.bool_mappings("TRAPPED", g.BAD, "no", g.GOOD),
        strings=True,
        w=12,
        h=4,
    ),
    Panel(
        viz=STAT,
        title="Safety circuit",
        queries=Latest('last({safety_circuit_ok:boolean}) AS "safety"'),
        description="Latest state of the safety circuit, per lift.",
        states=g.bool_mappings("closed", g.GOOD, "OPEN", g.BAD),
        strings=True,
        w=12,
        h=4,
    ),
    Row("Travel"),
    Panel(
        viz=TIMESERIES,
        title="Floor",
        queries=Series("last({floor:number})", fill="previous"),
        description="Car position as the controller reports it (floor number).",
        look=g.Look(decimals=0),
        steps=True,
        fill=0,
        w=12,
        h=8,
    ),
    per_interval(
        "Trips per interval", "trips", "Increase of the trip counter per interval.", 12, 8
    ),
    counted_in_range(
        "Trips in range", "trips", "Trips counted over the dashboard's time range.", 12, 4
    ),
    run_hours(12, 4),
    Row("Doors"),
    Panel(
        viz=STATE,
        title="Door state",
        queries=_states("door_state"),
        description="Door operator state; red is a door fault.",
        states=EnumStates("door_state"),
        w=12,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Door faults",
        queries=[
            Series(
                "count({door_state:string})",
                fill="0",
                where=("\"door_state\" = 'fault'",),
                alias="$tag_equipment door fault state",
            ),
            Series(
                "count({fault_code:string})",
                fill="0",
                where=('"fault_code" =~ /^door_/',),
                alias="$tag_equipment door fault code",
            ),
        ],
        description="Reports of the door in its fault state and of door open/close fault "
        "codes, per interval. Nothing drawn means no door fault in the range.",
        look=g.Look(decimals=0, min=0),
        bars=True,
        legend_calcs=COUNTER_LEGEND,
        w=12,
        h=8,
    ),
    per_interval(
        "Door cycles per interval",
        "door_cycles",
        "Increase of the door-cycle counter per interval.",
        24,
        7,
    ),
    Row("Drive"),
    Panel(
        viz=TIMESERIES,
        title="Drive temperature",
        queries=Series("mean({drive_temperature:number})"),
        description="Drive (inverter) temperature; the controller trips on over-temperature.",
        look=g.Look(
            unit="celsius",
            decimals=1,
            thresholds=g.thresholds((None, g.GOOD), (70, g.WARN), (85, g.BAD)),
        ),
        threshold_line=True,
        w=12,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Car load",
        queries=Series("max({load:number})"),
        description="Highest car load per interval.",
        look=g.Look(unit="masskg", decimals=0, min=0),
        w=12,
        h=8,
    ),
]


def build(kinds: dict[str, FieldSet]) -> Dashboard:
    return equipment_board(
        UID,
        KIND,
        "Plantroom · Lifts",
        "Every lift in the selection: operating mode and fault code, car position, trips, "
        "door behaviour and drive temperature.",
        ("lifts",),
        BOARD,
        kinds,
    )
