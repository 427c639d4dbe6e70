"""Fire alarm panels: panel and zone states, mains and battery, alarm signals."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.common import enum_mappings, event_annotations, scope_variables
from dashboards.influxql import BUILDING, EQUIPMENT, SITE, latest, over_time
from dashboards.profiles import FieldSet

UID = "plantroom-fire-panels"
KIND = "fire_panel"
SCOPE = (SITE, BUILDING, EQUIPMENT)
NUMBER = ("integer", "float")
SIGNALS = ("fire_alarm", "trouble", "supervisory", "zone_disabled")


def build(kinds: dict[str, FieldSet]) -> g.Dashboard:
    p = kinds[KIND]
    zones = p.numbered("zone_{n}")
    life_safety = enum_mappings(p.enum("panel_state"))
    d = g.Dashboard(
        UID,
        "Plantroom · Fire panels",
        "Every fire alarm panel in the selection: panel and zone states, mains and battery "
        "supervision, battery voltage and alarm signals.",
        tags=("fire", KIND),
        variables=scope_variables(KIND, equipment=True),
        annotations=event_annotations(equipment=True),
    )

    d.row("Status")
    panel_state = over_time(f"last({p.f('panel_state', 'string')})", KIND, SCOPE, fill="previous")
    d.add(
        g.state_timeline(
            "Panel state",
            [g.target(panel_state, alias="$tag_equipment")],
            description="Overall panel state (life-safety states: normal, pre-alarm, alarm, "
            "fault, supervisory, disabled).",
            mappings=life_safety,
        ),
        12,
        8,
    )
    zone_fields = ", ".join(f'last({p.f(f"zone_{n}", "string")}) AS "zone {n}"' for n in zones)
    d.add(
        g.table(
            "Zone states now",
            [
                g.target(
                    latest(
                        f'last({p.f("panel_state", "string")}) AS "panel", {zone_fields}',
                        KIND,
                        SCOPE,
                        by=("building", "equipment"),
                    ),
                    table=True,
                )
            ],
            description="Latest state of each panel and each of its zones.",
            look=g.Look(mappings=life_safety, color_mode="thresholds"),
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            ],
            overrides=[
                g.override(
                    "^(panel|zone \\d+)$",
                    regex=True,
                    cell_type={"type": "color-background", "mode": "basic"},
                )
            ],
        ),
        12,
        8,
    )
    d.add(
        g.state_timeline(
            "Zone states",
            [
                g.target(
                    over_time(zone_fields, KIND, SCOPE, fill="previous"),
                    alias="$tag_equipment $col",
                )
            ],
            description="State of every zone of every panel over time.",
            mappings=life_safety,
            row_height=0.9,
        ),
        24,
        12,
    )

    d.row("Power")
    power = (
        f'last({p.f("mains_ok", "boolean")}) AS "mains", '
        f'last({p.f("battery_ok", "boolean")}) AS "battery"'
    )
    d.add(
        g.state_timeline(
            "Mains and battery",
            [g.target(over_time(power, KIND, SCOPE, fill="previous"), alias="$tag_equipment $col")],
            description="Mains supply and standby battery supervision.",
            mappings=g.bool_mappings("ok", g.GOOD, "FAIL", g.BAD),
        ),
        12,
        8,
    )
    volts = over_time(f"mean({p.f('battery_voltage', *NUMBER)})", KIND, SCOPE)
    d.add(
        g.timeseries(
            "Battery voltage",
            [g.target(volts, alias="$tag_equipment")],
            description="Standby battery voltage (24 V system): below 24 V the battery cannot "
            "carry the panel through a mains failure for long.",
            look=g.Look(
                unit="volt",
                decimals=2,
                thresholds=g.thresholds((None, g.BAD), (24, g.WARN), (25.5, g.GOOD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )

    d.row("Alarms")
    signals = ", ".join(f"last({p.f(s, 'boolean')}) AS {p.f(s)}" for s in SIGNALS)
    d.add(
        g.state_timeline(
            "Signals",
            [
                g.target(
                    over_time(signals, KIND, SCOPE, fill="previous"), alias="$tag_equipment $col"
                )
            ],
            description="Fire alarm, trouble, supervisory and zone-disabled signals.",
            mappings=g.bool_mappings("ACTIVE", g.BAD, "clear", g.GOOD),
        ),
        12,
        8,
    )
    active = over_time(f"last({p.f('active_alarms', *NUMBER)})", KIND, SCOPE, fill="previous")
    d.add(
        g.timeseries(
            "Active alarms",
            [g.target(active, alias="$tag_equipment")],
            description="Number of active alarm points on each panel.",
            look=g.Look(decimals=0, min=0, thresholds=g.thresholds((None, g.GOOD), (1, g.BAD))),
            steps=True,
        ),
        12,
        8,
    )
    d.add(
        g.stat(
            "Active alarms now",
            [
                g.target(
                    latest(f"last({p.f('active_alarms', *NUMBER)})", KIND, SCOPE),
                    alias="$tag_equipment",
                )
            ],
            description="Latest count of active alarm points, per panel.",
            look=g.Look(
                decimals=0,
                color_mode="thresholds",
                thresholds=g.thresholds((None, g.GOOD), (1, g.BAD)),
            ),
        ),
        24,
        4,
    )
    return d
