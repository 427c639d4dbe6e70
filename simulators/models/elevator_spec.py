"""The lift's ratings and timings, its phases, its calls, its fault catalogue and the
day's traffic pattern: what `ElevatorModel` runs on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from simulators.faults import FaultSpec, ParamSpec

RATED_LOAD_KG = 1000
PASSENGER_KG = 75
FLOOR_TIME_S = 2.0  # per floor at rated speed
ACCEL_S = 1.5  # added to the first and the last floor of a run
DOOR_OPENING_S = 2.5
DOOR_DWELL_S = 5.0
DOOR_CLOSING_S = 3.0
RELEVEL_S = 3.0
BOOT_S = 20.0  # controller start-up after the supply returns
CORRECTION_RUN_S = 8.0  # creeping to the nearest landing after a power cut
MEAN_CALL_INTERVAL_S = 45.0
MAX_WAITING_CALLS = 8
AMBIENT_C = 28.0
TRIP_C = 90.0  # drive protection trips at this temperature ...
RESET_C = 75.0  # ... and resets below this one
FAN_FAILED_TARGET_C = 105.0


class Phase(StrEnum):
    IDLE = "idle"  # at a landing, doors closed
    MOVING = "moving"
    RELEVELING = "releveling"  # creeping into the landing zone
    DOOR_OPENING = "door_opening"
    DOOR_OPEN = "door_open"
    DOOR_CLOSING = "door_closing"
    DOOR_FAULT = "door_fault"
    STOPPED = "stopped"  # between floors
    HALTED = "halted"  # at a landing, safety chain open


@dataclass(slots=True)
class Call:
    origin: int
    destination: int
    kg: int


# What can go wrong with the lift, as the control endpoint and scenarios inject it.
FAULTS: tuple[FaultSpec, ...] = (
    FaultSpec(
        "door_open_fault",
        "the doors fail to open at the next stop (the car is called "
        "to its own floor if idle): door_state=fault, mode=out_of_service, fault_code=1; "
        "passenger_trapped=1 if the car is loaded",
    ),
    FaultSpec(
        "door_close_fault",
        "the doors fail to close after the next stop: door_state="
        "fault, mode=out_of_service, fault_code=2; the passengers step out",
    ),
    FaultSpec(
        "stopped_outside_landing_zone",
        "the car stops between floors: at_landing=0, mode=stopped, direction=idle, "
        "fault_code=3, passenger_trapped=1 while load>0",
        (
            ParamSpec(
                "passengers",
                int,
                None,
                "people in the car; unset: those aboard, at least one",
                0,
                RATED_LOAD_KG // PASSENGER_KG,
            ),
        ),
    ),
    FaultSpec(
        "drive_over_temperature",
        f"the drive's cooling fails: drive_temperature climbs "
        f"past {TRIP_C:g} °C, then fault_code=4 and the car parks at the next landing "
        f"out of service until it cools below {RESET_C:g} °C",
    ),
    FaultSpec(
        "safety_circuit_open",
        "the safety chain opens: safety_circuit_ok=0, "
        "fault_code=5, mode=out_of_service (stopped if it was running between floors)",
    ),
    FaultSpec(
        "leveling_error",
        "the car stops out of level and relevels at every landing: "
        "fault_code=6, at_landing=0 while it relevels; it stays in service",
    ),
)


def traffic_factor(h: float) -> float:
    """How busy the lift is at local hour `h`, relative to the mean call rate: morning,
    lunch and evening peaks, quiet nights."""
    if 7.5 <= h < 9.5:
        return 2.5
    if 12.0 <= h < 14.0 or 17.5 <= h < 19.5:
        return 2.0
    if 9.5 <= h < 17.5:
        return 1.2
    if 19.5 <= h < 23.0:
        return 0.7
    if 6.0 <= h < 7.5:
        return 0.6
    return 0.15
