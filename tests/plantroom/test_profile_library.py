"""The real equipment profiles decode the register values of their vendors' documents.

Each case is register words as the device sends them and the value the document says they
mean: the document's own examples where it gives them, else words worked out by hand from
its encoding (noted). Decoded with the edge's decoder.
"""

from __future__ import annotations

import pytest

from edge.decode import Value, decode_bit, decode_registers
from edge.decode_derived import DerivedValues
from plantroom.canonical import canonical_points
from plantroom.profiles import SHIPPED_DIR, ModbusProfile, load_profile
from plantroom.schema import Quality

CASES: list[tuple[str, str, list[int], Value]] = [
    # Eastron SDM630: float32, high word first; by hand: 230.0 = 0x43660000, 10.5 = 0x41280000,
    # 2415.5 = 0x4516F800, 50.0 = 0x42480000, 12345.5 = 0x4640E600
    ("eastron-sdm630", "phase_1_voltage", [0x4366, 0x0000], 230.0),
    ("eastron-sdm630", "phase_3_current", [0x4128, 0x0000], 10.5),
    # 30053 total system power: 2415.5 W on the wire, the canonical kW after conversion
    ("eastron-sdm630", "power", [0x4516, 0xF800], 2.4155),
    ("eastron-sdm630", "frequency", [0x4248, 0x0000], 50.0),
    ("eastron-sdm630", "import_energy", [0x4640, 0xE600], 12345.5),
    # Grundfos boosters: the document's ProcessFeedback examples 4700 = 47 %, 8000 = 80 %;
    # 0xFFFF = not available; control mode 4 = constant pressure; alarm code 57 dry running
    ("grundfos-hydro-mpc-cim200", "process_feedback", [4700], 47.0),
    ("grundfos-hydro-mpc-cim200", "process_feedback", [8000], 80.0),
    ("grundfos-hydro-mpc-cim200", "flow", [0xFFFF], None),
    ("grundfos-hydro-mpc-cim200", "control_mode", [4], "constant_pressure"),
    ("grundfos-hydro-mpc-cim200", "alarm_code", [57], "dry_run"),
    ("grundfos-hydro-mpc-cim200", "alarm_code", [3], "code_3"),
    # by hand: OutletPressure 0.001 bar (4520 = 4.52 bar), Power 10 W (250 = 2500 W, the
    # canonical 2.5 kW), MotorTemperature 0.01 K (30815 = 308.15 K, the canonical 35 degC),
    # OperationTime HI/LO 1 h
    ("grundfos-hydro-mpc-cim200", "discharge_pressure", [4520], 4.52),
    ("grundfos-hydro-mpc-cim200", "power", [250], 2.5),
    ("grundfos-hydro-mpc-cim200", "motor_temperature", [30815], 35.0),
    ("grundfos-hydro-mpc-cim200", "pump_1_operation_time", [0x0001, 0x86A0], 100000),
    ("grundfos-hydro-mpc-cim200", "rotation", [1 << 6], True),
    ("grundfos-hydro-mpc-cim200", "pump_1_fault", [0b100], True),
    # Altivar 312, by hand: rFr 0.1 Hz signed (500 = 50.0 Hz, -500 = reverse), LCr 0.1 A
    ("schneider-atv312", "output_frequency", [500], 50.0),
    ("schneider-atv312", "output_frequency", [0x10000 - 500], -50.0),
    ("schneider-atv312", "current", [105], 10.5),
    ("schneider-atv312", "eta", [0x0027], 0x0027),
    # Notifier CGW-MB: counters as numbers; panel status bit 1 = silence
    ("notifier-cgw-mb", "l1_detector_alarms", [2], 2),
    ("notifier-cgw-mb", "silenced", [0b10], True),
    ("notifier-cgw-mb", "silenced", [0b01], False),
    # Intesis DALI: ballast status b2 LampPwrOn, b1 LampFail, b0 BallFail; level 0-100 %
    ("intesis-dali-modbus", "circuit_1_status", [0b110], 0b110),
    ("intesis-dali-modbus", "circuit_2_level", [75], 75),
]

# Derived points: a register image (address: words, every other register 0) as the device
# would answer, and the value of a derived point the edge computes from that poll.
Image = dict[int, list[int]]
DERIVED: list[tuple[str, Image, str, Value]] = [
    # Grundfos section 16: 57 dry running, 211 underpressure, 48 overload; OperationTime hours
    ("grundfos-hydro-mpc-cim200", {204: [57]}, "dry_run", True),
    ("grundfos-hydro-mpc-cim200", {204: [57]}, "low_pressure", False),
    ("grundfos-hydro-mpc-cim200", {204: [0]}, "dry_run", False),
    ("grundfos-hydro-mpc-cim200", {204: [211]}, "low_pressure", True),
    ("grundfos-hydro-mpc-cim200", {204: [48]}, "over_current", True),
    ("grundfos-hydro-mpc-cim200", {204: [210]}, "over_current", False),
    ("grundfos-hydro-mpc-cim200", {402: [0x0001, 0x86A0]}, "run_hours", 100000),
    # Altivar ETA (CiA 402): 0x0027 operation enabled, 0x0008 fault, 0x0427 + reference
    # reached; ERRD 0x2310 OCF overcurrent; rtH hours
    ("schneider-atv312", {3201: [0x0027]}, "running", True),
    ("schneider-atv312", {3201: [0x0027]}, "fault", False),
    ("schneider-atv312", {3201: [0x0008]}, "fault", True),
    ("schneider-atv312", {3201: [0x0008]}, "running", False),
    ("schneider-atv312", {3201: [0x0023]}, "ready", True),
    ("schneider-atv312", {3201: [0x0427]}, "reference_reached", True),
    ("schneider-atv312", {3201: [0x00A7]}, "drive_alarm", True),
    ("schneider-atv312", {8606: [0x2310]}, "over_current", True),
    ("schneider-atv312", {8606: [0x4210]}, "over_current", False),
    ("schneider-atv312", {3231: [1234]}, "run_hours", 1234),
    # SDM630: the highest of the three phase currents (10.5, 12.0, 11.0 A, float32 ABCD)
    (
        "eastron-sdm630",
        {0x06: [0x4128, 0x0000], 0x08: [0x4140, 0x0000], 0x0A: [0x4130, 0x0000]},
        "current",
        12.0,
    ),
    # CGW-MB loop counters: 2 detectors of loop 1 and 1 module of loop 2 in alarm
    ("notifier-cgw-mb", {14100: [2], 14116: [1]}, "active_alarms", 3),
    ("notifier-cgw-mb", {14100: [2], 14116: [1]}, "fire_alarm", True),
    ("notifier-cgw-mb", {}, "fire_alarm", False),
    ("notifier-cgw-mb", {59999: [1]}, "trouble", True),
    ("notifier-cgw-mb", {14112: [1]}, "trouble", True),
    ("notifier-cgw-mb", {}, "trouble", False),
    ("notifier-cgw-mb", {14108: [1]}, "zone_disabled", True),
    ("notifier-cgw-mb", {14104: [3]}, "zone_disabled", False),  # tests are not disables
    # Intesis Ballast Status: b2 LampPwrOn, b1 LampFail, b0 BallFail
    ("intesis-dali-modbus", {5: [0b100]}, "circuit_1_on", True),
    ("intesis-dali-modbus", {5: [0b110]}, "circuit_1_lamp_failure", True),
    ("intesis-dali-modbus", {5: [0b110]}, "circuit_1_failed_lamps", 1),
    ("intesis-dali-modbus", {5: [0b100]}, "circuit_1_failed_lamps", 0),
    ("intesis-dali-modbus", {105: [0b001]}, "circuit_2_tripped", True),
    ("intesis-dali-modbus", {105: [0b001]}, "circuit_2_ballast_failure", True),
    ("intesis-dali-modbus", {305: [0b110]}, "circuit_4_tripped", False),
]


REAL = sorted({case[0] for case in CASES})


def profile(name: str) -> ModbusProfile:
    loaded = load_profile(SHIPPED_DIR / f"{name}.yaml")
    assert isinstance(loaded, ModbusProfile)
    return loaded


@pytest.mark.parametrize(("name", "point", "words", "expected"), CASES)
def test_a_documented_register_value_decodes(
    name: str, point: str, words: list[int], expected: Value
) -> None:
    found = {p.name: p for p in profile(name).points}[point]
    assert decode_registers(found, words) == expected


def poll(name: str, image: Image) -> dict[str, Value]:
    """Every point of the profile decoded from `image` (a coil or discrete input from the
    same address), and its derived points computed, as the edge does after a poll."""
    found = profile(name)
    words: dict[int, int] = {}
    for start, registers in image.items():
        words.update({start + i: w for i, w in enumerate(registers)})
    values = {
        p.name: decode_bit(p, bool(words.get(p.address, 0)))
        if p.table.is_bits
        else decode_registers(p, [words.get(p.address + i, 0) for i in range(p.count)])
        for p in found.points
    }
    quality: dict[str, Quality] = {}
    DerivedValues(found).apply(values, quality)
    return values


@pytest.mark.parametrize(("name", "image", "point", "expected"), DERIVED)
def test_a_derived_point_maps_the_vendors_value_onto_a_canonical_point(
    name: str, image: Image, point: str, expected: Value
) -> None:
    assert any(d.name == point for d in profile(name).derived), point
    assert poll(name, image)[point] == expected


def test_every_real_profile_maps_its_vendor_values_onto_canonical_points() -> None:
    for name in REAL:
        loaded = profile(name)
        canonical = canonical_points(loaded.kind)
        derived = [d.name for d in loaded.derived]
        assert any(d in canonical for d in derived), (name, derived)


@pytest.mark.parametrize(
    ("name", "simulator"),
    [
        ("eastron-sdm630", "plantroom-sim-pump"),
        ("schneider-atv312", "plantroom-sim-pump"),
        ("grundfos-hydro-mpc-cim200", "plantroom-sim-pump"),
        ("notifier-cgw-mb", "plantroom-sim-fire-panel"),
    ],
)
def test_a_canonical_point_has_the_type_the_simulator_profile_stores(
    name: str, simulator: str
) -> None:
    """A point of one name goes to one InfluxDB field of the kind's measurement: an integer
    where the other equipment of the kind writes a float would be refused."""
    real, sim = poll(name, {}), poll(simulator, {})
    shared = sorted(set(real) & set(sim) & set(canonical_points(profile(name).kind)))
    assert shared, name
    assert {p: type(real[p]).__name__ for p in shared} == {p: type(sim[p]).__name__ for p in shared}


def test_every_real_profile_cites_its_source() -> None:
    names = {case[0] for case in CASES}
    for name in names:
        header = (SHIPPED_DIR / f"{name}.yaml").read_text(encoding="utf-8").split("\nname:")[0]
        assert "# Source:" in header and "http" in header, name
