"""Pumps: run state and alarms, hydraulics, motor, run hours and starts."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.equipment import (
    EquipmentBoard,
    counted_in_range,
    latest_label,
    per_interval,
    run_hours,
    signals,
    state,
    trends,
)
from dashboards.panels import (
    Board,
    EnumStates,
    Row,
)

UID = "plantroom-pumps"
KIND = "pump"
ALARM_BITS = ("dry_run", "low_pressure", "over_current", "high_level", "leak")


def _level(warn: float, bad: float) -> g.JSON:
    return g.thresholds((None, g.GOOD), (warn, g.WARN), (bad, g.BAD))


BOARD: Board = [
    Row("Status"),
    state("Run state", "run_state", "Stopped, running or in fault."),
    state(
        "Alarm code",
        "alarm_code",
        "The pump's active alarm; anything but none raises an alarm.",
        default=g.BAD,
    ),
    latest_label(
        "Alarm code now",
        'last({alarm_code:string}) AS "alarm"',
        "Latest alarm code reported by each pump.",
        EnumStates("alarm_code", default=g.BAD),
    ),
    latest_label(
        "Warning code now",
        'last({warning_code:string}) AS "warning"',
        "Latest warning code: a condition to watch before it becomes an alarm.",
        EnumStates("warning_code", default=g.WARN),
    ),
    signals(
        "Alarm inputs",
        ALARM_BITS,
        "Dry run, low pressure, over-current, high level and leak inputs.",
        g.bool_mappings("ALARM", g.BAD, "ok", g.GOOD),
        row_height=0.9,
        w=24,
        h=9,
    ),
    Row("Hydraulics"),
    *trends(
        (
            "Discharge pressure",
            "mean({discharge_pressure:number})",
            "Mean discharge pressure per interval.",
            g.Look(unit="pressurebar", decimals=2, min=0),
        ),
        (
            "Flow",
            "mean({flow:number})",
            "Mean flow per interval.",
            g.Look(unit="flowcmh", decimals=1, min=0),
        ),
        (
            "Sump level",
            "mean({sump_level:number})",
            "Sump level, for sump and drainage pumps.",
            g.Look(unit="percent", decimals=0, min=0, max=100, thresholds=_level(80, 90)),
        ),
        w=8,
    ),
    Row("Motor"),
    *trends(
        (
            "Motor current",
            "mean({current:number})",
            "Mean motor current per interval.",
            g.Look(unit="amp", decimals=1, min=0),
        ),
        (
            "Power",
            "mean({power:number})",
            "Mean electrical power per interval.",
            g.Look(unit="kwatt", decimals=2, min=0),
        ),
        (
            "Speed",
            "mean({speed:number})",
            "Mean shaft speed per interval.",
            g.Look(unit="rotrpm", decimals=0, min=0),
        ),
        w=8,
    ),
    *trends(
        (
            "Motor temperature",
            "mean({motor_temperature:number})",
            "Mean motor winding temperature per interval.",
            g.Look(unit="celsius", decimals=1, thresholds=_level(80, 100)),
        ),
        (
            "Vibration",
            "max({vibration:number})",
            "Highest vibration velocity per interval (mm/s); rising vibration points at "
            "bearing wear.",
            g.Look(unit="suffix: mm/s", decimals=2, min=0, thresholds=_level(4.5, 7.1)),
        ),
        w=12,
    ),
    Row("Counters"),
    run_hours(8, 5),
    counted_in_range(
        "Starts in range",
        "starts",
        "Starts counted over the dashboard's time range; frequent starts shorten a pump's life.",
        8,
        5,
    ),
    per_interval(
        "Starts per interval", "starts", "Increase of the start counter per interval.", 8, 5
    ),
]


SPEC = EquipmentBoard(
    UID,
    KIND,
    "Plantroom · Pumps",
    "Every pump in the selection: run state and alarm code, discharge pressure and flow, "
    "motor current and temperature, run hours and starts.",
    ("pumps",),
    BOARD,
)
