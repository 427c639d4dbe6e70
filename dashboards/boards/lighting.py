"""Lighting: circuits on and tripped, failed lamps, power and energy, burn hours."""

from __future__ import annotations

from dashboards import grafana as g
from dashboards.boards.common import event_annotations, scope_variables
from dashboards.influxql import BUILDING, EQUIPMENT, SITE, latest, over_time
from dashboards.profiles import FieldSet

UID = "plantroom-lighting"
KIND = "lighting"
SCOPE = (SITE, BUILDING, EQUIPMENT)
NUMBER = ("integer", "float")


def build(kinds: dict[str, FieldSet]) -> g.Dashboard:
    p = kinds[KIND]
    circuits = p.numbered("circuit_{n}_on")
    d = g.Dashboard(
        UID,
        "Plantroom · Lighting",
        "Every lighting controller in the selection: which circuits are on or tripped, failed "
        "lamps against the 100% good-order target, power, energy and lamp burn hours.",
        tags=("lighting", KIND),
        variables=scope_variables(KIND, equipment=True),
        annotations=event_annotations(equipment=True),
    )

    def per_circuit(point: str, agg: str, *types: str) -> str:
        return ", ".join(
            f'{agg}({p.f(point.format(n=n), *types)}) AS "circuit {n}"' for n in circuits
        )

    def total(point: str, agg: str) -> str:
        return " + ".join(f"{agg}({p.f(point.format(n=n), *NUMBER)})" for n in circuits)

    d.row("Circuits")
    on = over_time(per_circuit("circuit_{n}_on", "last", "boolean"), KIND, SCOPE, fill="previous")
    d.add(
        g.state_timeline(
            "Circuits on",
            [g.target(on, alias="$tag_equipment $col")],
            description="Which circuit of each controller is switched on.",
            mappings=g.bool_mappings("on", g.NOTICE, "off", g.OFF),
            row_height=0.9,
        ),
        12,
        10,
    )
    tripped = over_time(
        per_circuit("circuit_{n}_tripped", "last", "boolean"), KIND, SCOPE, fill="previous"
    )
    d.add(
        g.state_timeline(
            "Circuits tripped",
            [g.target(tripped, alias="$tag_equipment $col")],
            description="A tripped circuit breaker leaves its lamps dark.",
            mappings=g.bool_mappings("TRIPPED", g.BAD, "ok", g.GOOD),
            row_height=0.9,
        ),
        12,
        10,
    )

    d.row("Lamps")
    failed = over_time(
        f'{total("circuit_{n}_failed_lamps", "last")} AS "failed lamps"',
        KIND,
        SCOPE,
        fill="previous",
    )
    d.add(
        g.timeseries(
            "Failed lamps",
            [g.target(failed, alias="$tag_equipment")],
            description="Failed lamps on all circuits of each controller; the service standard "
            "is to report failures at once and keep lighting 100% in good order.",
            look=g.Look(decimals=0, min=0, thresholds=g.thresholds((None, g.GOOD), (1, g.BAD))),
            steps=True,
            fill=0,
        ),
        12,
        8,
    )
    good = latest(
        f"100 * (1 - ({total('circuit_{n}_failed_lamps', 'last')}) / "
        f'({total("circuit_{n}_lamps", "last")})) AS "lamps good"',
        KIND,
        SCOPE,
    )
    d.add(
        g.stat(
            "Lamps in good order",
            [g.target(good, alias="$tag_equipment")],
            description="Share of installed lamps that work, per controller (target 100%).",
            look=g.Look(
                unit="percent",
                decimals=1,
                min=0,
                max=100,
                color_mode="thresholds",
                thresholds=g.thresholds((None, g.BAD), (95, g.WARN), (100, g.GOOD)),
            ),
        ),
        12,
        8,
    )

    d.row("Power and energy")
    power = over_time(
        f'{total("circuit_{n}_power", "mean")} AS "power"', KIND, SCOPE, fill="previous"
    )
    d.add(
        g.timeseries(
            "Power",
            [g.target(power, alias="$tag_equipment")],
            description="Mean power of all circuits of each controller.",
            look=g.Look(unit="watt", decimals=0, min=0),
        ),
        12,
        8,
    )
    # One query per circuit: InfluxDB 1.x mis-groups several integral() calls in one
    # statement once tags are filtered, so the circuits are joined and totalled in Grafana.
    energy = [
        g.target(
            latest(
                f'integral({p.f(f"circuit_{n}_power", *NUMBER)}, 1h) / 1000 AS "circuit {n}"',
                KIND,
                SCOPE,
                by=("building", "equipment"),
            ),
            table=True,
        )
        for n in circuits
    ]
    d.add(
        g.table(
            "Energy in range",
            energy,
            description="Energy used by each circuit of each controller over the time range "
            "(integral of power), with the controller's total.",
            look=g.Look(unit="kwatth", decimals=2),
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True}}},
                {"id": "merge", "options": {}},
                {
                    "id": "calculateField",
                    "options": {
                        "mode": "reduceRow",
                        "reduce": {"reducer": "sum"},
                        "alias": "total",
                        "replaceFields": False,
                    },
                },
            ],
        ),
        12,
        8,
    )
    mains = over_time(f"mean({p.f('mains_voltage', *NUMBER)})", KIND, SCOPE)
    d.add(
        g.timeseries(
            "Mains voltage",
            [g.target(mains, alias="$tag_equipment")],
            description="Supply voltage at each controller.",
            look=g.Look(
                unit="volt",
                decimals=1,
                thresholds=g.thresholds((None, g.BAD), (207, g.GOOD), (253, g.BAD)),
            ),
            threshold_line=True,
        ),
        12,
        8,
    )
    burn = latest(
        per_circuit("circuit_{n}_burn_hours", "last", *NUMBER),
        KIND,
        SCOPE,
        by=("building", "equipment"),
    )
    d.add(
        g.table(
            "Lamp burn hours",
            [g.target(burn, table=True)],
            description="Burn-hours counter of each circuit, for planning group re-lamping.",
            look=g.Look(unit="h", decimals=0),
            transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        ),
        12,
        8,
    )
    return d
