"""Lighting: circuits on and tripped, failed lamps, power and energy, burn hours."""

from __future__ import annotations

from collections.abc import Callable

from dashboards import grafana as g
from dashboards.boards.equipment import EquipmentBoard, stepped
from dashboards.panels import (
    EQUIPMENT_COLUMN_ALIAS,
    HIDE_TIME,
    STAT,
    STATE,
    TABLE,
    Board,
    Latest,
    Panel,
    Row,
    Series,
    trend,
)
from dashboards.profiles import FieldSet

UID = "plantroom-lighting"
KIND = "lighting"
PER_CONTROLLER = ("building", "equipment")


def circuits(p: FieldSet) -> list[int]:
    """The circuit numbers the lighting profiles define."""
    return p.numbered("circuit_{n}_on")


def per_circuit(point: str, agg: str, types: str) -> Callable[[FieldSet], str]:
    """`agg` of `point` (named with `{n}`) for every circuit, one column each."""
    return lambda p: ", ".join(
        f'{agg}({{{point.format(n=n)}:{types}}}) AS "circuit {n}"' for n in circuits(p)
    )


def total(point: str, agg: str, p: FieldSet) -> str:
    """`agg` of `point` (named with `{n}`) summed over the circuits."""
    return " + ".join(f"{agg}({{{point.format(n=n)}:number}})" for n in circuits(p))


def failed_lamps(p: FieldSet) -> str:
    """The failed lamps of all circuits, one column."""
    return f'{total("circuit_{n}_failed_lamps", "last", p)} AS "failed lamps"'


def _energy(p: FieldSet) -> list[Latest]:
    # One query per circuit: InfluxDB 1.x mis-groups several integral() calls in one
    # statement once tags are filtered, so the circuits are joined and totalled in Grafana.
    return [
        Latest(
            f'integral({{circuit_{n}_power:number}}, 1h) / 1000 AS "circuit {n}"',
            by=PER_CONTROLLER,
            alias="",
            table=True,
        )
        for n in circuits(p)
    ]


def _circuit_states(title: str, pattern: str, description: str, states: list[g.JSON]) -> Panel:
    """A boolean point of every circuit over time, one lane per controller and circuit."""
    return Panel(
        viz=STATE,
        title=title,
        queries=Series(
            per_circuit(pattern, "last", "boolean"), fill="previous", alias=EQUIPMENT_COLUMN_ALIAS
        ),
        description=description,
        states=states,
        row_height=0.9,
        w=12,
        h=10,
    )


BOARD: Board = [
    Row("Circuits"),
    _circuit_states(
        "Circuits on",
        "circuit_{n}_on",
        "Which circuit of each controller is switched on.",
        g.bool_mappings("on", g.NOTICE, "off", g.OFF),
    ),
    _circuit_states(
        "Circuits tripped",
        "circuit_{n}_tripped",
        "A tripped circuit breaker leaves its lamps dark.",
        g.bool_mappings("TRIPPED", g.BAD, "ok", g.GOOD),
    ),
    Row("Lamps"),
    stepped(
        "Failed lamps",
        failed_lamps,
        "Failed lamps on all circuits of each controller; the service standard is to report "
        "failures at once and keep lighting 100% in good order.",
        g.Look(decimals=0, min=0, thresholds=g.thresholds((None, g.GOOD), (1, g.BAD))),
    ),
    Panel(
        viz=STAT,
        title="Lamps in good order",
        queries=Latest(
            lambda p: (
                f"100 * (1 - ({total('circuit_{n}_failed_lamps', 'last', p)}) / "
                f'({total("circuit_{n}_lamps", "last", p)})) AS "lamps good"'
            )
        ),
        description="Share of installed lamps that work, per controller (target 100%).",
        look=g.Look(
            unit="percent",
            decimals=1,
            min=0,
            max=100,
            color_mode="thresholds",
            thresholds=g.thresholds((None, g.BAD), (95, g.WARN), (100, g.GOOD)),
        ),
        w=12,
        h=8,
    ),
    Row("Power and energy"),
    trend(
        "Power",
        Series(lambda p: f'{total("circuit_{n}_power", "mean", p)} AS "power"', fill="previous"),
        "Mean power of all circuits of each controller.",
        g.Look(unit="watt", decimals=0, min=0),
    ),
    Panel(
        viz=TABLE,
        title="Energy in range",
        queries=_energy,
        description="Energy used by each circuit of each controller over the time range "
        "(integral of power), with the controller's total.",
        look=g.Look(unit="kwatth", decimals=2),
        transformations=[
            HIDE_TIME,
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
        w=12,
        h=8,
    ),
    trend(
        "Mains voltage",
        Series("mean({mains_voltage:number})"),
        "Supply voltage at each controller.",
        g.Look(
            unit="volt",
            decimals=1,
            thresholds=g.thresholds((None, g.BAD), (207, g.GOOD), (253, g.BAD)),
        ),
    ),
    Panel(
        viz=TABLE,
        title="Lamp burn hours",
        queries=Latest(
            per_circuit("circuit_{n}_burn_hours", "last", "number"),
            by=PER_CONTROLLER,
            alias="",
            table=True,
        ),
        description="Burn-hours counter of each circuit, for planning group re-lamping.",
        look=g.Look(unit="h", decimals=0),
        transformations=[HIDE_TIME],
        w=12,
        h=8,
    ),
]


SPEC = EquipmentBoard(
    UID,
    KIND,
    "Plantroom · Lighting",
    "Every lighting controller in the selection: which circuits are on or tripped, failed "
    "lamps against the 100% good-order target, power, energy and lamp burn hours.",
    ("lighting",),
    BOARD,
)
