"""What the cloud intake benchmarks (`bench_ingest`, `ingest_cpu`) send: the generated campus
and the values of a piece of equipment that reports every second."""

from __future__ import annotations

from typing import Any

SITE = "campus"
BUILDINGS, PER_KIND = 10, 34
EQUIPMENT = BUILDINGS * PER_KIND * 4  # 1,360: elevators, pumps, fire panels, lighting


def sample_points(kind: str, seq: int) -> dict[str, Any]:
    """Normal values of a piece of equipment that reports every second."""
    if kind == "pump":
        return {
            "run_state": "running",
            "speed": 1450 + seq % 7,
            "current": 12.5,
            "discharge_pressure": 4.1 + (seq % 5) / 100,
            "motor_temperature": 55,
            "vibration": 1.2,
            "sump_level": 30,
            "starts": 100,
            "alarm_code": "none",
            "dry_run": False,
            "low_pressure": False,
            "over_current": False,
            "high_level": False,
            "leak": False,
        }
    if kind == "elevator":
        return {
            "floor": seq % 20,
            "direction": "up",
            "door_state": "closed",
            "mode": "normal",
            "load": 300,
            "drive_temperature": 45,
            "trips": 1000 + seq // 10,
            "door_cycles": 2000 + seq // 10,
            "fault_code": "none",
            "at_landing": True,
            "safety_circuit_ok": True,
            "passenger_trapped": False,
        }
    if kind == "lighting":  # the lumen-lc4 controller's points, as its edge agent maps them
        circuits: dict[str, Any] = {"mains_voltage": 229.5 + (seq % 3) / 10}
        for c in range(1, 5):
            circuits |= {
                f"circuit_{c}_on": True,
                f"circuit_{c}_power": 410.0 + c,
                f"circuit_{c}_lamps": 12,
                f"circuit_{c}_failed_lamps": 0,
                f"circuit_{c}_tripped": False,
                f"circuit_{c}_burn_hours": 1200.5 + seq / 3600,
            }
        return circuits
    return {
        "panel_state": "normal",
        **{f"zone_{z}": "normal" for z in range(1, 9)},
        "battery_voltage": 27.1,
        "active_alarms": 0,
        "mains_ok": True,
        "battery_ok": True,
        "fire_alarm": False,
        "trouble": False,
        "supervisory": False,
        "zone_disabled": False,
    }
