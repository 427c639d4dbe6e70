"""Lifts: mode and faults, position, trips, doors and the drive."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.common import enum_mappings, event_annotations, scope_variables
from dashboards.influxql import BUILDING, EQUIPMENT, SITE, latest, over_time
from dashboards.profiles import FieldSet

UID = "plantroom-lifts"
KIND = "elevator"
SCOPE = (SITE, BUILDING, EQUIPMENT)
NUMBER = ("integer", "float")


def build(kinds: dict[str, FieldSet]) -> g.Dashboard:
    p = kinds[KIND]
    d = g.Dashboard(
        UID,
        "Plantroom · Lifts",
        "Every lift in the selection: operating mode and fault code, car position, trips, "
        "door behaviour and drive temperature.",
        tags=("lifts", KIND),
        variables=scope_variables(KIND, equipment=True),
        annotations=event_annotations(equipment=True),
    )

    def states(field: str) -> str:
        return over_time(f"last({p.f(field, 'string', 'boolean')})", KIND, SCOPE, fill="previous")

    d.row("Status")
    d.add(
        g.state_timeline(
            "Mode",
            [g.target(states("mode"), alias="$tag_equipment")],
            description="Operating mode of each lift: normal service, out of service, "
            "inspection, fire service or stopped.",
            mappings=enum_mappings(p.enum("mode")),
        ),
        12,
        8,
    )
    d.add(
        g.state_timeline(
            "Fault code",
            [g.target(states("fault_code"), alias="$tag_equipment")],
            description="The controller's active fault; anything but none raises an alarm.",
            mappings=enum_mappings(p.enum("fault_code"), default=g.BAD),
        ),
        12,
        8,
    )
    trapped = latest(f'last({p.f("passenger_trapped", "boolean")}) AS "trapped"', KIND, SCOPE)
    d.add(
        g.stat(
            "Passenger trapped",
            [g.target(trapped, alias="$tag_equipment")],
            description="Latest report of the trapped-passenger signal, per lift.",
            look=g.Look(mappings=g.bool_mappings("TRAPPED", g.BAD, "no", g.GOOD)),
            strings=True,
        ),
        12,
        4,
    )
    safety = latest(f'last({p.f("safety_circuit_ok", "boolean")}) AS "safety"', KIND, SCOPE)
    d.add(
        g.stat(
            "Safety circuit",
            [g.target(safety, alias="$tag_equipment")],
            description="Latest state of the safety circuit, per lift.",
            look=g.Look(mappings=g.bool_mappings("closed", g.GOOD, "OPEN", g.BAD)),
            strings=True,
        ),
        12,
        4,
    )

    d.row("Travel")
    floor = over_time(f"last({p.f('floor', *NUMBER)})", KIND, SCOPE, fill="previous")
    d.add(
        g.timeseries(
            "Floor",
            [g.target(floor, alias="$tag_equipment")],
            description="Car position as the controller reports it (floor number).",
            look=g.Look(decimals=0),
            steps=True,
            fill=0,
        ),
        12,
        8,
    )
    trips = over_time(f"non_negative_difference(max({p.f('trips', *NUMBER)}))", KIND, SCOPE)
    d.add(
        g.timeseries(
            "Trips per interval",
            [g.target(trips, alias="$tag_equipment")],
            description="Increase of the trip counter per interval.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        12,
        8,
    )
    d.add(
        g.stat(
            "Trips in range",
            [
                g.target(
                    latest(f"spread({p.f('trips', *NUMBER)})", KIND, SCOPE), alias="$tag_equipment"
                )
            ],
            description="Trips counted over the dashboard's time range.",
            look=g.Look(decimals=0, color_mode="fixed"),
        ),
        12,
        4,
    )
    d.add(
        g.stat(
            "Run hours",
            [
                g.target(
                    latest(f"last({p.f('run_hours', *NUMBER)})", KIND, SCOPE),
                    alias="$tag_equipment",
                )
            ],
            description="Running-hours counter, the basis of runtime-based maintenance.",
            look=g.Look(unit="h", decimals=0, color_mode="fixed"),
        ),
        12,
        4,
    )

    d.row("Doors")
    d.add(
        g.state_timeline(
            "Door state",
            [g.target(states("door_state"), alias="$tag_equipment")],
            description="Door operator state; red is a door fault.",
            mappings=enum_mappings(p.enum("door_state")),
        ),
        12,
        8,
    )
    door_faults = over_time(
        f"count({p.f('door_state', 'string')})",
        KIND,
        (*SCOPE, "\"door_state\" = 'fault'"),
        fill="0",
    )
    door_codes = over_time(
        f"count({p.f('fault_code', 'string')})",
        KIND,
        (*SCOPE, '"fault_code" =~ /^door_/'),
        fill="0",
    )
    d.add(
        g.timeseries(
            "Door faults",
            [
                g.target(door_faults, alias="$tag_equipment door fault state"),
                g.target(door_codes, alias="$tag_equipment door fault code"),
            ],
            description="Reports of the door in its fault state and of door open/close fault "
            "codes, per interval. Nothing drawn means no door fault in the range.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        12,
        8,
    )
    cycles = over_time(f"non_negative_difference(max({p.f('door_cycles', *NUMBER)}))", KIND, SCOPE)
    d.add(
        g.timeseries(
            "Door cycles per interval",
            [g.target(cycles, alias="$tag_equipment")],
            description="Increase of the door-cycle counter per interval.",
            look=g.Look(decimals=0, min=0),
            bars=True,
            legend_calcs=("sum",),
        ),
        24,
        7,
    )

    d.row("Drive")
    temp = over_time(f"mean({p.f('drive_temperature', *NUMBER)})", KIND, SCOPE)
    d.add(
        g.timeseries(
            "Drive temperature",
            [g.target(temp, alias="$tag_equipment")],
            description="Drive (inverter) temperature; the controller trips on over-temperature.",
            look=g.Look(
                unit="celsius",
                decimals=1,
                thresholds=g.thresholds((None, g.GOOD), (70, g.WARN), (85, g.BAD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )
    load = over_time(f"max({p.f('load', *NUMBER)})", KIND, SCOPE)
    d.add(
        g.timeseries(
            "Car load",
            [g.target(load, alias="$tag_equipment")],
            description="Highest car load per interval.",
            look=g.Look(unit="masskg", decimals=0, min=0),
        ),
        12,
        8,
    )
    return d
