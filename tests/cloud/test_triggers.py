"""Which samples are urgent: the rules' points index and the change from the last value."""

from __future__ import annotations

from typing import Any

from cloud.rules.loader import load_rules
from cloud.rules.model import Rule
from cloud.triggers import Triggers, crosses, index
from plantroom.schema import Quality, Telemetry

T0 = 1_700_000_000_000


class Pump:
    def __init__(self, triggers: Triggers, equipment: str = "pump-1") -> None:
        self.triggers = triggers
        self.equipment = equipment
        self.seq = 0

    def urgent(self, points: dict[str, Any], quality: dict[str, Quality] | None = None) -> bool:
        self.seq += 1
        t = Telemetry(ts=T0 + self.seq, seq=self.seq, points=points, quality=quality)
        return self.triggers.urgent("pump", self.equipment, t)


def test_the_shipped_rules_index() -> None:
    kinds = index(load_rules())
    pump = kinds["pump"]
    assert {"dry_run", "run_state", "alarm_code"} <= pump.discrete
    assert pump.thresholds["motor_temperature"] == (85.0, 100.0)
    assert set(pump.windows) == {"starts", "vibration"}
    assert pump.windows["starts"].counter and not pump.windows["vibration"].counter
    assert pump.windows["starts"].resolution_s == 3600 / 2048


def test_a_fault_bit_or_state_that_changes_is_urgent_and_a_repeat_is_not() -> None:
    pump = Pump(Triggers(load_rules()))
    assert pump.urgent({"dry_run": False, "run_state": "running"})  # first seen
    assert not pump.urgent({"dry_run": False, "speed": 1450})
    assert pump.urgent({"dry_run": True})
    assert not pump.urgent({"dry_run": True})
    assert pump.urgent({"run_state": "fault"})


def test_any_boolean_or_text_point_counts_as_a_state_even_without_a_rule() -> None:
    pump = Pump(Triggers([]))
    assert pump.urgent({"leak": False})
    assert not pump.urgent({"leak": False, "speed": 10})
    assert pump.urgent({"leak": True})


def test_a_measurement_is_urgent_only_when_it_crosses_a_rule_s_threshold() -> None:
    pump = Pump(Triggers(load_rules()))
    assert pump.urgent({"motor_temperature": 60.0})  # a threshold point's first value
    assert not pump.urgent({"motor_temperature": 70.0})
    assert pump.urgent({"motor_temperature": 101.0})  # above 100
    assert not pump.urgent({"motor_temperature": 105.0})
    assert pump.urgent({"motor_temperature": 90.0})  # back under 100: the alarm may clear
    assert not pump.urgent({"motor_temperature": 86.0})
    assert pump.urgent({"motor_temperature": 80.0})  # under the clear level, 85
    assert not pump.urgent({"speed": 10, "flow": 12.5})  # no rule reads them against a level


def test_a_point_becoming_unavailable_changes_a_state_not_a_threshold() -> None:
    pump = Pump(Triggers(load_rules()))
    pump.urgent({"dry_run": False, "motor_temperature": 60.0})
    assert not pump.urgent({"motor_temperature": 61.0}, {"motor_temperature": Quality.UNAVAILABLE})
    assert pump.urgent({"motor_temperature": 62.0})  # a value again where there was none
    assert pump.urgent({"dry_run": False}, {"dry_run": Quality.UNAVAILABLE})


def test_the_first_value_of_a_windowed_point_is_urgent_and_the_rest_routine() -> None:
    pump = Pump(Triggers(load_rules()))
    assert pump.urgent({"starts": 3})
    assert not pump.urgent({"starts": 4, "vibration": None})
    assert pump.urgent({"vibration": 1.2})
    assert not pump.urgent({"starts": 5, "vibration": 1.3})


def test_an_older_sample_is_routine_and_leaves_the_last_values_alone() -> None:
    triggers = Triggers(load_rules())
    new = Telemetry(ts=T0 + 10, seq=2, points={"dry_run": True})
    old = Telemetry(ts=T0, seq=1, points={"dry_run": False})
    assert triggers.urgent("pump", "p", new)
    assert not triggers.urgent("pump", "p", old)
    assert not triggers.urgent("pump", "p", Telemetry(ts=T0 + 11, seq=3, points={"dry_run": True}))


def test_seeded_values_are_the_starting_point_and_reloads_keep_them() -> None:
    triggers = Triggers(load_rules())
    triggers.seed("pump-1", {"dry_run": False, "motor_temperature": 50.0})
    pump = Pump(triggers)
    assert not pump.urgent({"dry_run": False, "motor_temperature": 55.0})
    hot = Rule.model_validate(
        {
            "id": "pump.warm",
            "kind": "pump",
            "title": "Warm",
            "condition": {"point": "motor_temperature", "above": 56},
            "severity": "minor",
            "priority": "normal",
        }
    )
    triggers.set_rules([hot])
    assert pump.urgent({"motor_temperature": 57.0})
    assert not pump.urgent({"dry_run": False})


def test_crossing() -> None:
    assert crosses(99.0, 100.0, (100.0,))  # to >= 100
    assert crosses(100.0, 101.0, (100.0,))  # to > 100
    assert not crosses(101.0, 102.0, (100.0,))
    assert not crosses(101.0, 101.0, (100.0,))
    assert crosses(None, 5.0, (100.0,))
    assert not crosses(5.0, None, (100.0,))
