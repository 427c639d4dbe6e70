"""Lifts: mode and faults, position, trips, doors and the drive."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.equipment import (
    EquipmentBoard,
    counted_in_range,
    latest_label,
    per_interval,
    run_hours,
    state,
    stepped,
    trends,
)
from dashboards.panels import Board, Row, Series, counter_bars

UID = "plantroom-lifts"
KIND = "elevator"


BOARD: Board = [
    Row("Status"),
    state(
        "Mode",
        "mode",
        "Operating mode of each lift: normal service, out of service, "
        "inspection, fire service or stopped.",
    ),
    state(
        "Fault code",
        "fault_code",
        "The controller's active fault; anything but none raises an alarm.",
        default=g.BAD,
    ),
    latest_label(
        "Passenger trapped",
        'last({passenger_trapped:boolean}) AS "trapped"',
        "Latest report of the trapped-passenger signal, per lift.",
        g.bool_mappings("TRAPPED", g.BAD, "no", g.GOOD),
    ),
    latest_label(
        "Safety circuit",
        'last({safety_circuit_ok:boolean}) AS "safety"',
        "Latest state of the safety circuit, per lift.",
        g.bool_mappings("closed", g.GOOD, "OPEN", g.BAD),
    ),
    Row("Travel"),
    stepped(
        "Floor",
        "last({floor:number})",
        "Car position as the controller reports it (floor number).",
        g.Look(decimals=0),
    ),
    per_interval(
        "Trips per interval", "trips", "Increase of the trip counter per interval.", 12, 8
    ),
    counted_in_range(
        "Trips in range", "trips", "Trips counted over the dashboard's time range.", 12, 4
    ),
    run_hours(12, 4),
    Row("Doors"),
    state("Door state", "door_state", "Door operator state; red is a door fault."),
    counter_bars(
        "Door faults",
        [
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
        "Reports of the door in its fault state and of door open/close fault "
        "codes, per interval. Nothing drawn means no door fault in the range.",
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
    *trends(
        (
            "Drive temperature",
            "mean({drive_temperature:number})",
            "Drive (inverter) temperature; the controller trips on over-temperature.",
            g.Look(
                unit="celsius",
                decimals=1,
                thresholds=g.thresholds((None, g.GOOD), (70, g.WARN), (85, g.BAD)),
            ),
        ),
        (
            "Car load",
            "max({load:number})",
            "Highest car load per interval.",
            g.Look(unit="masskg", decimals=0, min=0),
        ),
        w=12,
    ),
]


SPEC = EquipmentBoard(
    UID,
    KIND,
    "Plantroom · Lifts",
    "Every lift in the selection: operating mode and fault code, car position, trips, "
    "door behaviour and drive temperature.",
    ("lifts",),
    BOARD,
)
