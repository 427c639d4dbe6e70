"""Pumps: run state and alarms, hydraulics, motor, run hours and starts."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.equipment import (
    booleans,
    counted_in_range,
    equipment_board,
    per_interval,
    run_hours,
)
from dashboards.dashboard import Dashboard
from dashboards.panels import (
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

UID = "plantroom-pumps"
KIND = "pump"
ALARM_BITS = ("dry_run", "low_pressure", "over_current", "high_level", "leak")


def _level(warn: float, bad: float) -> g.JSON:
    return g.thresholds((None, g.GOOD), (warn, g.WARN), (bad, g.BAD))


BOARD: Board = [
    Row("Status"),
    Panel(
        viz=STATE,
        title="Run state",
        queries=Series("last({run_state:string})", fill="previous"),
        description="Stopped, running or in fault.",
        states=EnumStates("run_state"),
        w=12,
        h=8,
    ),
    Panel(
        viz=STATE,
        title="Alarm code",
        queries=Series("last({alarm_code:string})", fill="previous"),
        description="The pump's active alarm; anything but none raises an alarm.",
        states=EnumStates("alarm_code", default=g.BAD),
        w=12,
        h=8,
    ),
    Panel(
        viz=STAT,
        title="Alarm code now",
        queries=Latest('last({alarm_code:string}) AS "alarm"'),
        description="Latest alarm code reported by each pump.",
        states=EnumStates("alarm_code", default=g.BAD),
        strings=True,
        w=12,
        h=4,
    ),
    Panel(
        viz=STAT,
        title="Warning code now",
        queries=Latest('last({warning_code:string}) AS "warning"'),
        description="Latest warning code: a condition to watch before it becomes an alarm.",
        states=EnumStates("warning_code", default=g.WARN),
        strings=True,
        w=12,
        h=4,
    ),
    Panel(
        viz=STATE,
        title="Alarm inputs",
        queries=booleans(ALARM_BITS),
        description="Dry run, low pressure, over-current, high level and leak inputs.",
        states=g.bool_mappings("ALARM", g.BAD, "ok", g.GOOD),
        row_height=0.9,
        w=24,
        h=9,
    ),
    Row("Hydraulics"),
    Panel(
        viz=TIMESERIES,
        title="Discharge pressure",
        queries=Series("mean({discharge_pressure:number})"),
        description="Mean discharge pressure per interval.",
        look=g.Look(unit="pressurebar", decimals=2, min=0),
        w=8,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Flow",
        queries=Series("mean({flow:number})"),
        description="Mean flow per interval.",
        look=g.Look(unit="flowcmh", decimals=1, min=0),
        w=8,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Sump level",
        queries=Series("mean({sump_level:number})"),
        description="Sump level, for sump and drainage pumps.",
        look=g.Look(unit="percent", decimals=0, min=0, max=100, thresholds=_level(80, 90)),
        threshold_line=True,
        w=8,
        h=8,
    ),
    Row("Motor"),
    Panel(
        viz=TIMESERIES,
        title="Motor current",
        queries=Series("mean({current:number})"),
        description="Mean motor current per interval.",
        look=g.Look(unit="amp", decimals=1, min=0),
        w=8,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Power",
        queries=Series("mean({power:number})"),
        description="Mean electrical power per interval.",
        look=g.Look(unit="kwatt", decimals=2, min=0),
        w=8,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Speed",
        queries=Series("mean({speed:number})"),
        description="Mean shaft speed per interval.",
        look=g.Look(unit="rotrpm", decimals=0, min=0),
        w=8,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Motor temperature",
        queries=Series("mean({motor_temperature:number})"),
        description="Mean motor winding temperature per interval.",
        look=g.Look(unit="celsius", decimals=1, thresholds=_level(80, 100)),
        threshold_line=True,
        w=12,
        h=8,
    ),
    Panel(
        viz=TIMESERIES,
        title="Vibration",
        queries=Series("max({vibration:number})"),
        description="Highest vibration velocity per interval (mm/s); rising vibration "
        "points at bearing wear.",
        look=g.Look(unit="suffix: mm/s", decimals=2, min=0, thresholds=_level(4.5, 7.1)),
        threshold_line=True,
        w=12,
        h=8,
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


def build(kinds: dict[str, FieldSet]) -> Dashboard:
    return equipment_board(
        UID,
        KIND,
        "Plantroom · Pumps",
        "Every pump in the selection: run state and alarm code, discharge pressure and flow, "
        "motor current and temperature, run hours and starts.",
        ("pumps",),
        BOARD,
        kinds,
    )
