"""Pumps: run state and alarms, hydraulics, motor, run hours and starts."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.common import enum_mappings, event_annotations, scope_variables
from dashboards.influxql import BUILDING, EQUIPMENT, SITE, latest, over_time
from dashboards.profiles import FieldSet

UID = "plantroom-pumps"
KIND = "pump"
SCOPE = (SITE, BUILDING, EQUIPMENT)
NUMBER = ("integer", "float")
ALARM_BITS = ("dry_run", "low_pressure", "over_current", "high_level", "leak")


def build(kinds: dict[str, FieldSet]) -> g.Dashboard:
    p = kinds[KIND]
    d = g.Dashboard(
        UID,
        "Plantroom · Pumps",
        "Every pump in the selection: run state and alarm code, discharge pressure and flow, "
        "motor current and temperature, run hours and starts.",
        tags=("pumps", KIND),
        variables=scope_variables(KIND, equipment=True),
        annotations=event_annotations(equipment=True),
    )

    def series(select: str, fill: str | None = None) -> g.JSON:
        return g.target(over_time(select, KIND, SCOPE, fill=fill), alias="$tag_equipment")

    def now(select: str) -> g.JSON:
        return g.target(latest(select, KIND, SCOPE), alias="$tag_equipment")

    d.row("Status")
    d.add(
        g.state_timeline(
            "Run state",
            [series(f"last({p.f('run_state', 'string')})", fill="previous")],
            description="Stopped, running or in fault.",
            mappings=enum_mappings(p.enum("run_state")),
        ),
        12,
        8,
    )
    d.add(
        g.state_timeline(
            "Alarm code",
            [series(f"last({p.f('alarm_code', 'string')})", fill="previous")],
            description="The pump's active alarm; anything but none raises an alarm.",
            mappings=enum_mappings(p.enum("alarm_code"), default=g.BAD),
        ),
        12,
        8,
    )
    d.add(
        g.stat(
            "Alarm code now",
            [now(f'last({p.f("alarm_code", "string")}) AS "alarm"')],
            description="Latest alarm code reported by each pump.",
            look=g.Look(mappings=enum_mappings(p.enum("alarm_code"), default=g.BAD)),
            strings=True,
        ),
        12,
        4,
    )
    d.add(
        g.stat(
            "Warning code now",
            [now(f'last({p.f("warning_code", "string")}) AS "warning"')],
            description="Latest warning code: a condition to watch before it becomes an alarm.",
            look=g.Look(mappings=enum_mappings(p.enum("warning_code"), default=g.WARN)),
            strings=True,
        ),
        12,
        4,
    )
    bits = ", ".join(f"last({p.f(b, 'boolean')}) AS {p.f(b)}" for b in ALARM_BITS)
    d.add(
        g.state_timeline(
            "Alarm inputs",
            [
                g.target(
                    over_time(bits, KIND, SCOPE, fill="previous"),
                    alias="$tag_equipment $col",
                )
            ],
            description="Dry run, low pressure, over-current, high level and leak inputs.",
            mappings=g.bool_mappings("ALARM", g.BAD, "ok", g.GOOD),
            row_height=0.9,
        ),
        24,
        9,
    )

    d.row("Hydraulics")
    d.add(
        g.timeseries(
            "Discharge pressure",
            [series(f"mean({p.f('discharge_pressure', *NUMBER)})")],
            description="Mean discharge pressure per interval.",
            look=g.Look(unit="pressurebar", decimals=2, min=0),
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Flow",
            [series(f"mean({p.f('flow', *NUMBER)})")],
            description="Mean flow per interval.",
            look=g.Look(unit="flowcmh", decimals=1, min=0),
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Sump level",
            [series(f"mean({p.f('sump_level', *NUMBER)})")],
            description="Sump level, for sump and drainage pumps.",
            look=g.Look(
                unit="percent",
                decimals=0,
                min=0,
                max=100,
                thresholds=g.thresholds((None, g.GOOD), (80, g.WARN), (90, g.BAD)),
            ),
            threshold_line=True,
        ),
        8,
        8,
    )

    d.row("Motor")
    d.add(
        g.timeseries(
            "Motor current",
            [series(f"mean({p.f('current', *NUMBER)})")],
            description="Mean motor current per interval.",
            look=g.Look(unit="amp", decimals=1, min=0),
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Power",
            [series(f"mean({p.f('power', *NUMBER)})")],
            description="Mean electrical power per interval.",
            look=g.Look(unit="kwatt", decimals=2, min=0),
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Speed",
            [series(f"mean({p.f('speed', *NUMBER)})")],
            description="Mean shaft speed per interval.",
            look=g.Look(unit="rotrpm", decimals=0, min=0),
        ),
        8,
        8,
    )
    d.add(
        g.timeseries(
            "Motor temperature",
            [series(f"mean({p.f('motor_temperature', *NUMBER)})")],
            description="Mean motor winding temperature per interval.",
            look=g.Look(
                unit="celsius",
                decimals=1,
                thresholds=g.thresholds((None, g.GOOD), (80, g.WARN), (100, g.BAD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )
    d.add(
        g.timeseries(
            "Vibration",
            [series(f"max({p.f('vibration', *NUMBER)})")],
            description="Highest vibration velocity per interval (mm/s); rising vibration "
            "points at bearing wear.",
            look=g.Look(
                unit="suffix: mm/s",
                decimals=2,
                min=0,
                thresholds=g.thresholds((None, g.GOOD), (4.5, g.WARN), (7.1, g.BAD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )

    d.row("Counters")
    d.add(
        g.stat(
            "Run hours",
            [now(f"last({p.f('run_hours', *NUMBER)})")],
            description="Running-hours counter, the basis of runtime-based maintenance.",
            look=g.Look(unit="h", decimals=0, color_mode="fixed"),
        ),
        8,
        5,
    )
    d.add(
        g.stat(
            "Starts in range",
            [now(f"spread({p.f('starts', *NUMBER)})")],
            description="Starts counted over the dashboard's time range; frequent starts "
            "shorten a pump's life.",
            look=g.Look(decimals=0, color_mode="fixed"),
        ),
        8,
        5,
    )
    d.add(
        g.timeseries(
            "Starts per interval",
            [series(f"non_negative_difference(max({p.f('starts', *NUMBER)}))")],
            description="Increase of the start counter per interval.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        8,
        5,
    )
    return d
