"""Fault catalogue and parameter validation."""

from __future__ import annotations

import pytest

from plantroom.kinds import KINDS
from simulators.devices import fault_catalogue
from simulators.errors import InvalidFaultParams
from simulators.faults import FaultSpec, ParamSpec

SPEC = FaultSpec(
    "demo",
    "a fault with parameters",
    (
        ParamSpec("zone", int, 1, "zone", 1, 8),
        ParamSpec("rate", float, None, "rate", 0.0, 10.0),
        ParamSpec("latched", bool, False, "latched"),
    ),
)


def test_defaults_fill_in() -> None:
    assert SPEC.validate(None) == {"zone": 1, "rate": None, "latched": False}
    assert SPEC.validate({"zone": 3.0, "rate": 2}) == {"zone": 3, "rate": 2.0, "latched": False}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"zone": 0}, r"'zone' must be within 1\.\.8, got 0"),
        ({"zone": 2.5}, "'zone' must be a whole number"),
        ({"zone": "3"}, "'zone' must be a number"),
        ({"zone": True}, "'zone' must be a number"),
        ({"rate": 11}, "'rate' must be within"),
        ({"latched": 1}, "'latched' must be true or false"),
        ({"colour": "red"}, "has no parameter 'colour'; its parameters: zone, rate, latched"),
    ],
)
def test_bad_params_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidFaultParams, match=message):
        SPEC.validate(params)


def test_catalogue_lists_every_kind_with_its_transport_faults() -> None:
    cat = fault_catalogue()
    assert set(cat) == set(KINDS)
    for kind in ("elevator", "pump", "fire_panel"):
        assert cat[kind][-4:] == ["no_response", "exception", "garbage", "slow"]
    assert cat["lighting"] == ["lamp_failure", "circuit_trip", "offline"]
    assert {"stopped_outside_landing_zone", "safety_circuit_open"} <= set(cat["elevator"])
    assert {"dry_run", "bearing_wear", "short_cycling", "high_level", "leak"} <= set(cat["pump"])
    assert {"fire_alarm", "mains_failure", "zone_disabled"} <= set(cat["fire_panel"])
