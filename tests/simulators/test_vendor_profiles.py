"""The vendor profiles' simulated devices: a kind's model served through each real profile's
register map decodes through the edge's decoder to sane values, and an injected fault shows."""

from __future__ import annotations

from typing import Any

import pytest

from edge.decode import Value, decode_bit, decode_registers
from edge.decode_derived import DerivedValues
from plantroom.errors import ConfigError
from plantroom.inventory import Building, Equipment, load_inventory
from plantroom.kinds import Kind
from plantroom.profiles import SHIPPED_DIR, ModbusProfile, load_profile
from plantroom.schema import Quality
from plantroom.settings import SimSettings
from simulators.campus import Campus
from simulators.devices import ModbusDevice
from simulators.models import ModelContext, create_model
from simulators.profile_map import served_profile
from simulators.registers import Table
from simulators.vendors import VENDOR_MAPS
from tests.harness import REPO

CONNECTION = {"type": "modbus_tcp", "host": "127.0.0.1", "port": 5020, "unit": 1}


def device(profile: str, kind: Kind, **tags: str) -> ModbusDevice:
    equipment = Equipment.model_validate(
        {"id": "x1", "kind": kind, "profile": profile, "connection": CONNECTION, "tags": tags}
    )
    model = create_model(kind, ModelContext(equipment_id="x1", seed=3, tags=tags))
    served = served_profile(profile, model)
    return ModbusDevice(Building(id="b1", floors=12), equipment, model, served)


def decoded(dev: ModbusDevice) -> dict[str, Value]:
    """Every point of the device's profile, read from its registers and decoded by the edge,
    with its derived points computed from them as the edge does after a poll."""
    profile = load_profile(SHIPPED_DIR / f"{dev.equipment.profile}.yaml")
    assert isinstance(profile, ModbusProfile)
    out: dict[str, Value] = {}
    for p in profile.points:
        table = Table(p.table.value)
        if p.table.is_bits:
            out[p.name] = decode_bit(p, dev.read_bits(table, p.address, 1)[0])
        else:
            out[p.name] = decode_registers(p, dev.read_registers(table, p.address, p.count))
    quality: dict[str, Quality] = {}
    DerivedValues(profile).apply(out, quality)
    assert quality == {}, quality  # every source answered
    return out


def run(dev: ModbusDevice, seconds: float) -> dict[str, Any]:
    dev.advance(seconds)
    return decoded(dev)


def test_every_vendor_mapping_is_a_shipped_profile_of_its_kind() -> None:
    for name, vendor in VENDOR_MAPS.items():
        assert load_profile(SHIPPED_DIR / f"{name}.yaml").kind is vendor.kind


def test_the_sdm630_shows_the_pumps_power_in_watts_on_three_phases() -> None:
    dev = device("eastron-sdm630", Kind.PUMP)
    dev.write_values({"pressure_setpoint": 8.0})  # the booster runs up to 8 bar
    values = run(dev, 120.0)
    model = dev.model.values()  # a fresh reading: its noise differs by about 1 %
    assert values["phase_1_voltage"] == pytest.approx(230.0)
    assert values["frequency"] == pytest.approx(50.0)
    assert isinstance(model["power"], float) and model["power"] > 1.0
    # the meter's W on the wire, the canonical kW once decoded
    assert values["power"] == pytest.approx(model["power"], rel=0.05)
    assert values["phase_1_power"] == pytest.approx(model["power"] * 1000 / 3, rel=0.05)
    assert values["phase_2_current"] == pytest.approx(model["current"], rel=0.05)
    assert values["current"] == max(values[f"phase_{n}_current"] for n in (1, 2, 3))
    assert isinstance(values["import_energy"], float) and values["import_energy"] > 0


def test_the_grundfos_booster_shows_dry_running_as_alarm_code_57() -> None:
    dev = device("grundfos-hydro-mpc-cim200", Kind.PUMP)
    values = run(dev, 1.0)
    assert values["alarm_code"] == "none"
    assert values["control_mode"] == "constant_pressure"
    assert isinstance(values["discharge_pressure"], float)
    assert 0.5 < values["discharge_pressure"] < 7.0
    assert isinstance(values["motor_temperature"], float) and 20 < values["motor_temperature"] < 60
    assert (values["dry_run"], values["low_pressure"], values["over_current"]) == (
        False,
        False,
        False,
    )
    assert values["run_hours"] == values["pump_1_operation_time"]
    dev.inject("dry_run")
    values = run(dev, 10.0)
    raw = dev.read_registers(Table.HOLDING, 204, 1)
    assert raw == [57]
    assert values["alarm_code"] == "dry_run"
    assert values["pump_1_alarm_code"] == "dry_run"
    assert values["pump_1_fault"] is True
    assert values["suction_pressure"] == pytest.approx(0.05)
    assert values["dry_run"] is True  # derived at the edge from code 57
    dev.clear("dry_run")
    values = run(dev, 10.0)
    assert values["alarm_code"] == "none" and values["dry_run"] is False


def test_the_grundfos_booster_shows_an_overload_as_over_current() -> None:
    dev = device("grundfos-hydro-mpc-cim200", Kind.PUMP)
    dev.write_values({"pressure_setpoint": 8.0})
    run(dev, 30.0)
    dev.inject("over_current")
    values = run(dev, 10.0)
    assert dev.read_registers(Table.HOLDING, 204, 1) == [48]
    assert values["over_current"] is True and values["dry_run"] is False


def test_the_altivar_shows_running_frequency_and_an_overload_trip() -> None:
    dev = device("schneider-atv312", Kind.PUMP)
    dev.write_values({"pressure_setpoint": 8.0})
    values = run(dev, 30.0)
    assert values["running"] is True and values["fault"] is False
    assert values["ready"] is True and values["reference_reached"] is True
    assert values["over_current"] is False
    assert values["run_hours"] == values["operating_time"]
    frequency = values["output_frequency"]
    assert isinstance(frequency, float) and 45.0 < frequency <= 50.0
    assert values["line_voltage"] == pytest.approx(400.0)
    dev.inject("over_current")
    values = run(dev, 10.0)
    assert values["fault"] is True and values["running"] is False
    assert values["drive_fault_code"] == 0x2310
    assert values["over_current"] is True  # derived from ERRD's OCF code


def test_the_notifier_gateway_counts_a_zone_in_alarm_and_a_mains_failure() -> None:
    dev = device("notifier-cgw-mb", Kind.FIRE_PANEL)
    values = run(dev, 1.0)
    assert values["l1_detector_alarms"] == 0 and values["panel_troubles"] == 0
    assert (values["fire_alarm"], values["trouble"], values["zone_disabled"]) == (
        False,
        False,
        False,
    )
    dev.inject("fire_alarm", {"zone": 3})
    dev.inject("mains_failure")
    values = run(dev, 1.0)
    assert values["l1_detector_alarms"] == 1
    assert values["panel_troubles"] == 1
    assert values["silenced"] is False
    assert values["active_alarms"] == 1 and values["fire_alarm"] is True
    assert values["trouble"] is True


def test_the_dali_gateway_shows_a_lamp_failure_on_its_ballast() -> None:
    dev = device("intesis-dali-modbus", Kind.LIGHTING)
    values = run(dev, 1.0)
    assert values["circuit_4_on"] is True  # circuit 4 is always lit
    assert values["circuit_4_level"] == 100
    dev.inject("lamp_failure", {"circuit": 2, "lamps": 2})
    values = run(dev, 1.0)
    assert values["circuit_2_lamp_failure"] is True
    assert values["circuit_2_failed_lamps"] == 1 and values["circuit_1_failed_lamps"] == 0
    assert values["circuit_2_tripped"] is False
    assert values["ecg_failures_0_15"] == 0b10
    assert dev.read_registers(Table.HOLDING, 105, 1)[0] & 0b10


def test_the_dali_gateway_shows_a_tripped_circuit_as_its_ballast_failing() -> None:
    dev = device("intesis-dali-modbus", Kind.LIGHTING)
    dev.inject("circuit_trip", {"circuit": 4})
    values = run(dev, 1.0)
    assert values["circuit_4_tripped"] is True and values["circuit_4_on"] is False
    assert values["circuit_3_tripped"] is False


def test_derived_points_are_computed_at_the_edge_not_served() -> None:
    for name, vendor in VENDOR_MAPS.items():
        profile = load_profile(SHIPPED_DIR / f"{name}.yaml")
        assert isinstance(profile, ModbusProfile) and profile.derived, name
        model = create_model(vendor.kind, ModelContext(equipment_id="x1"))
        served = served_profile(name, model)
        assert served is not None
        served_names = set(served.register_map.by_name)
        assert served_names == {p.name for p in profile.points}, name
        assert not served_names & {d.name for d in profile.derived}, name


def test_a_mapping_for_another_kind_is_refused() -> None:
    model = create_model(Kind.FIRE_PANEL, ModelContext(equipment_id="x1"))
    with pytest.raises(ConfigError, match="mapped for pump models"):
        served_profile("eastron-sdm630", model)


def test_the_real_models_site_is_simulated_device_by_device() -> None:
    inventory = load_inventory(REPO / "sites" / "real-models.yaml")
    campus = Campus(inventory, SimSettings(), start_time=1_767_225_600.0)
    assert campus.skipped == {}
    for equipment_id, dev in campus.devices.items():
        assert isinstance(dev, ModbusDevice) and dev.served is not None, equipment_id
        assert decoded(dev)
