"""The real equipment profiles decode the register values of their vendors' documents.

Each case is register words as the device sends them and the value the document says they
mean: the document's own examples where it gives them, else words worked out by hand from
its encoding (noted). Decoded with the edge's decoder.
"""

from __future__ import annotations

import pytest

from edge.decode import Value, decode_registers
from plantroom.profiles import SHIPPED_DIR, ModbusProfile, load_profile

CASES: list[tuple[str, str, list[int], Value]] = [
    # Eastron SDM630: float32, high word first; by hand: 230.0 = 0x43660000, 10.5 = 0x41280000,
    # 2415.5 = 0x4516F800, 50.0 = 0x42480000, 12345.5 = 0x4640E600
    ("eastron-sdm630", "phase_1_voltage", [0x4366, 0x0000], 230.0),
    ("eastron-sdm630", "phase_3_current", [0x4128, 0x0000], 10.5),
    ("eastron-sdm630", "power", [0x4516, 0xF800], 2415.5),
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
    # by hand: OutletPressure 0.001 bar (4520 = 4.52 bar), Power 10 W (250 = 2.5 kW),
    # MotorTemperature 0.01 K (30815 = 308.15 K = 35 degC), OperationTime HI/LO 1 h
    ("grundfos-hydro-mpc-cim200", "discharge_pressure", [4520], 4.52),
    ("grundfos-hydro-mpc-cim200", "power", [250], 2.5),
    ("grundfos-hydro-mpc-cim200", "motor_temperature", [30815], 35.0),
    ("grundfos-hydro-mpc-cim200", "pump_1_operation_time", [0x0001, 0x86A0], 100000),
    ("grundfos-hydro-mpc-cim200", "rotation", [1 << 6], True),
    ("grundfos-hydro-mpc-cim200", "pump_1_fault", [0b100], True),
    # Altivar 312, by hand: rFr 0.1 Hz signed (500 = 50.0 Hz, -500 = reverse), LCr 0.1 A,
    # ETA 0x0027 = operation enabled (CiA 402), 0x0008 = fault
    ("schneider-atv312", "output_frequency", [500], 50.0),
    ("schneider-atv312", "output_frequency", [0x10000 - 500], -50.0),
    ("schneider-atv312", "current", [105], 10.5),
    ("schneider-atv312", "running", [0x0027], True),
    ("schneider-atv312", "fault", [0x0027], False),
    ("schneider-atv312", "fault", [0x0008], True),
    # Notifier CGW-MB: counters as numbers; panel status bit 1 = silence
    ("notifier-cgw-mb", "l1_detector_alarms", [2], 2),
    ("notifier-cgw-mb", "silenced", [0b10], True),
    ("notifier-cgw-mb", "silenced", [0b01], False),
    # Intesis DALI: ballast status b2 LampPwrOn, b1 LampFail, b0 BallFail; level 0-100 %
    ("intesis-dali-modbus", "circuit_1_on", [0b100], True),
    ("intesis-dali-modbus", "circuit_1_lamp_failure", [0b110], True),
    ("intesis-dali-modbus", "circuit_1_ballast_failure", [0b110], False),
    ("intesis-dali-modbus", "circuit_2_level", [75], 75),
]


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


def test_every_real_profile_cites_its_source() -> None:
    names = {case[0] for case in CASES}
    for name in names:
        header = (SHIPPED_DIR / f"{name}.yaml").read_text(encoding="utf-8").split("\nname:")[0]
        assert "# Source:" in header and "http" in header, name
