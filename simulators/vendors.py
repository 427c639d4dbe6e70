"""What only a vendor's device has, worked out from a kind's model: one mapping per profile.

`simulators.profile_map` encodes every point of a shipped vendor profile from the model's
value of the same name; the functions here give the rest (status words, alarm codes, phase
values, counters) from the model's values, in the profile's units. Each names the document
its codes come from in the profile's header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from plantroom.kinds import Kind
from simulators.models.fire_panel import ZONES
from simulators.models.lighting import CIRCUITS
from simulators.models.pump import RATED_CURRENT_A, RATED_POWER_KW, RATED_SPEED
from simulators.registers import Value

VendorValues = Callable[[Mapping[str, Value]], dict[str, Value]]


@dataclass(frozen=True, slots=True)
class VendorMap:
    """A profile's vendor-only values from a `kind` model's values."""

    kind: Kind
    values: VendorValues
    model_units: Mapping[str, str] = field(default_factory=dict)


def _number(values: Mapping[str, Value], name: str) -> float:
    value = values.get(name)
    return float(value) if isinstance(value, int | float) else 0.0


# -- Eastron SDM630 on a pump's supply ----------------------------------------------------
MAINS_V = 230.0
MAINS_HZ = 50.0
AVERAGE_LOAD_KW = 0.7 * RATED_POWER_KW  # energy counted from running hours at this load


def _sdm630(v: Mapping[str, Value]) -> dict[str, Value]:
    amps = _number(v, "current")
    phase_w = _number(v, "power") * 1000.0 / 3
    energy = _number(v, "run_hours") * AVERAGE_LOAD_KW
    out: dict[str, Value] = {"frequency": MAINS_HZ, "export_energy": 0.0}
    for phase in (1, 2, 3):
        out[f"phase_{phase}_voltage"] = MAINS_V
        out[f"phase_{phase}_current"] = amps
        out[f"phase_{phase}_power"] = phase_w
    out["import_energy"] = out["total_energy"] = energy
    return out


# -- Grundfos Hydro MPC, CIM 200 -------------------------------------------------------------
FEEDBACK_SENSOR_BAR = 16.0  # the pressure transmitter's range (ProcessFeedback is % of it)
INLET_BAR = 1.5
# the model's alarm names → the names the profile gives Grundfos codes 48, 57, 211; the
# model's other alarms have no code in the profile and show on the pump's fault bit only
GRUNDFOS_CODES = {"overload": "overload", "dry_run": "dry_run", "low_pressure": "low_pressure"}


def _grundfos(v: Mapping[str, Value]) -> dict[str, Value]:
    running = v.get("run_state") == "running"
    alarm = str(v.get("alarm_code") or "none")
    pressure = v.get("discharge_pressure")
    feedback = (
        100.0 * float(pressure) / FEEDBACK_SENSOR_BAR if isinstance(pressure, int | float) else None
    )
    return {
        "at_max_power": _number(v, "power") >= RATED_POWER_KW,
        "rotation": running,
        "process_feedback": feedback,
        "control_mode": "constant_pressure",
        "operation_mode": "auto_control",
        "alarm_code": GRUNDFOS_CODES.get(alarm, "none"),
        "warning_code": GRUNDFOS_CODES.get(str(v.get("warning_code") or "none"), "none"),
        "pumps_present": 0b1,
        "suction_pressure": 0.05 if v.get("dry_run") else INLET_BAR,
        "pump_1_on": running,
        "pump_1_fault": alarm != "none" or v.get("run_state") == "fault",
        "pump_1_alarm_code": GRUNDFOS_CODES.get(alarm, "none"),
        "pump_1_operation_time": int(_number(v, "run_hours")),
        "pump_1_speed": 100.0 * _number(v, "speed") / RATED_SPEED,
    }


# -- Schneider Altivar 312 -----------------------------------------------------------------
DRIVE_LINE_V = 400.0
MOTOR_HZ = 50.0
OVER_CURRENT_FAULT = 0x2310  # CiA 402 error code "continuous over current"
# ETA, the CiA 402 status word: ready to switch on (bit 0), switched on (1), operation
# enabled (2), fault (3), quick stop off (5), alarm (7), reference reached (10)
ETA_STOPPED = 0x0023
ETA_RUNNING = 0x0027
ETA_FAULT = 0x0008
ETA_ALARM = 1 << 7
ETA_REFERENCE_REACHED = 1 << 10


def _atv312(v: Mapping[str, Value]) -> dict[str, Value]:
    state = v.get("run_state")
    tripped = state == "fault" or v.get("alarm_code") == "overload"
    amps = _number(v, "current")
    running = state == "running"
    eta = ETA_FAULT if tripped else ETA_RUNNING if running else ETA_STOPPED
    if running and not tripped:
        eta |= ETA_REFERENCE_REACHED
    if v.get("warning_code") not in (None, "none"):
        eta |= ETA_ALARM
    return {
        "eta": eta,
        "output_frequency": MOTOR_HZ * _number(v, "speed") / RATED_SPEED,
        "line_voltage": DRIVE_LINE_V,
        "drive_thermal_state": round(80.0 * amps / RATED_CURRENT_A),
        "motor_power_percent": round(100.0 * _number(v, "power") / RATED_POWER_KW),
        "operating_time": int(_number(v, "run_hours")),
        "drive_fault_code": OVER_CURRENT_FAULT if v.get("alarm_code") == "overload" else 0,
    }


# -- Notifier CGW-MB on a fire panel --------------------------------------------------------
def _cgw_mb(v: Mapping[str, Value]) -> dict[str, Value]:
    zones = [v.get(f"zone_{z}") for z in range(1, ZONES + 1)]
    out: dict[str, Value] = {
        f"l{loop}_{what}": 0
        for loop in (1, 2)
        for what in (
            *(
                f"{device}_{event}"
                for device in ("detector", "module")
                for event in ("alarms", "troubles", "prealarms", "disables", "tests")
            ),
            "active_nonas",
        )
    }
    # the panel's detectors all sit on loop 1
    out["l1_detector_alarms"] = zones.count("alarm")
    out["l1_detector_prealarms"] = zones.count("pre_alarm")
    out["l1_detector_troubles"] = zones.count("fault")
    out["l1_detector_disables"] = zones.count("disabled")
    out["silenced"] = False
    out["panel_troubles"] = int(not v.get("mains_ok")) + int(not v.get("battery_ok"))
    return out


# -- Intesis DALI-Modbus gateway on a lighting controller -----------------------------------
# Ballast Status bits (r1.3 section 2.4): b0 BallFail, b1 LampFail, b2 LampPwrOn
BALLAST_FAIL = 1 << 0
LAMP_FAIL = 1 << 1
LAMP_POWER_ON = 1 << 2


def _dali(v: Mapping[str, Value]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    failures = 0
    for n in range(1, CIRCUITS + 1):
        lit = bool(v.get(f"circuit_{n}_on"))
        lamp = _number(v, f"circuit_{n}_failed_lamps") > 0
        ballast = bool(v.get(f"circuit_{n}_tripped"))
        status = BALLAST_FAIL * ballast | LAMP_FAIL * lamp | LAMP_POWER_ON * lit
        out[f"circuit_{n}_status"] = status
        out[f"circuit_{n}_level"] = 100 if lit else 0
        failures |= (lamp or ballast) << (n - 1)
    out["ecg_failures_0_15"] = failures
    return out


VENDOR_MAPS: dict[str, VendorMap] = {
    "eastron-sdm630": VendorMap(Kind.PUMP, _sdm630),
    "grundfos-hydro-mpc-cim200": VendorMap(Kind.PUMP, _grundfos),
    "schneider-atv312": VendorMap(Kind.PUMP, _atv312),
    "notifier-cgw-mb": VendorMap(Kind.FIRE_PANEL, _cgw_mb),
    "intesis-dali-modbus": VendorMap(Kind.LIGHTING, _dali),
}
