"""The lift controller's register map as the simulated vendor publishes it, with its
directions, door states, modes and fault codes. Kept here on purpose rather than derived from
the edge profiles: the simulator plays the vendor, and a test holds this map to the shipped
profile."""

from __future__ import annotations

from simulators.registers import DataType, Point, RegisterMap, Table

DIRECTION = {0: "idle", 1: "up", 2: "down"}
DOOR_STATE = {0: "closed", 1: "opening", 2: "open", 3: "closing", 4: "fault"}
MODE = {0: "normal", 1: "out_of_service", 2: "inspection", 3: "fire_service", 4: "stopped"}
FAULT_CODE = {
    0: "none",
    1: "door_open_fault",
    2: "door_close_fault",
    3: "stopped_outside_landing_zone",
    4: "drive_over_temperature",
    5: "safety_circuit_open",
    6: "leveling_error",
}

H, D, C = Table.HOLDING, Table.DISCRETE, Table.COIL
REGISTER_MAP = RegisterMap(
    "plantroom-sim-elevator",
    [
        Point(
            "floor",
            H,
            0,
            DataType.INT16,
            unit="1",
            description="floor of the car (last landing passed)",
        ),
        Point("direction", H, 1, DataType.ENUM, enum=DIRECTION, description="travel direction"),
        Point("door_state", H, 2, DataType.ENUM, enum=DOOR_STATE, description="car door"),
        Point("mode", H, 3, DataType.ENUM, enum=MODE, description="operating mode"),
        Point("load", H, 4, DataType.UINT16, unit="kg", description="load in the car"),
        Point(
            "drive_temperature",
            H,
            5,
            DataType.INT16,
            scale=0.1,
            unit="degC",
            not_available=0x7FFF,
            description="drive (inverter) heatsink temperature",
        ),
        Point(
            "trips", H, 6, DataType.UINT32, unit="1", description="completed runs (wraps at 2^32)"
        ),
        Point("door_cycles", H, 8, DataType.UINT32, unit="1", description="door opening cycles"),
        Point("run_hours", H, 10, DataType.FLOAT32, unit="h", description="hours the car has run"),
        Point("fault_code", H, 12, DataType.ENUM, enum=FAULT_CODE, description="active fault"),
        Point(
            "out_of_service_command",
            C,
            0,
            DataType.BOOL,
            writable=True,
            description="1 takes the car out of service once its passengers are off; 0 returns it",
        ),
        Point("at_landing", D, 0, DataType.BOOL, description="car within a landing (door) zone"),
        Point("safety_circuit_ok", D, 1, DataType.BOOL, description="safety chain closed"),
        Point(
            "passenger_trapped",
            D,
            2,
            DataType.BOOL,
            description="passengers in a car they cannot leave",
        ),
    ],
)
