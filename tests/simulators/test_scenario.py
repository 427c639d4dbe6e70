"""Scenario files: durations, validation with file/line/field, binding, and timing (no sockets)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from plantroom.errors import ConfigError
from plantroom.inventory import load_inventory
from plantroom.settings import SimSettings
from simulators.runner import Simulation
from simulators.scenario import (
    Scenario,
    load_scenario,
    parse_duration,
    scenario_from_request,
)
from simulators.scenario_run import clock_start
from tests.harness import REPO

SCENARIOS = sorted((REPO / "sites" / "scenarios").glob("*.yaml"))
HK = ZoneInfo("Asia/Hong_Kong")
NOON_HK = datetime(2026, 3, 2, 12, 0, tzinfo=HK).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h30m", 9000.0),
        ("2h 30m", 9000.0),
        ("1.5h", 5400.0),
        ("3d", 259_200.0),
        ("2w", 1_209_600.0),
        ("250ms", 0.25),
        ("1m30s500ms", 90.5),
        (45, 45.0),
        (0.5, 0.5),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "h", "2x", "2h30", "abc", "-5s", -5, True, None, [1]])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def sim(start_time: float = NOON_HK) -> Simulation:
    inv = load_inventory(REPO / "sites" / "demo.yaml")
    return Simulation(inv, SimSettings(), control=False, start_time=start_time)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_shipped_scenarios_load_and_fit_the_demo_campus(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem and scenario.description
    run = sim().run_scenario(path)
    assert len(run.steps) == len(scenario.steps)
    at_once = [s.index for s in run.steps if s.at == 0 and scenario.start is None]
    assert [entry["step"] for entry in run.log] == at_once


def test_shipped_scenario_names() -> None:
    assert [p.stem for p in SCENARIOS] == [
        "bearing-wear",
        "building-power-failure",
        "burst-pipe-at-night",
    ]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "name: x\nsteps:\n  - at: 2x\n    do: inject\n    equipment: pump-a1\n"
            "    fault: leak\n",
            r"case.yaml:3: steps.0.at: .*'2x' is not a duration",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: flood\n    equipment: pump-a1\n",
            r"case.yaml:4: steps.0.do: Input should be 'inject', 'clear', 'set'",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: inject\n    equipment: pump-a1\n"
            "    fault: leak\n    colour: red\n",
            r"case.yaml:7: steps.0.colour: Extra inputs are not permitted",
        ),
        (
            "name: x\nsteps:\n  - {at: 1m, do: clear, equipment: pump-a1}\n"
            "  - at: 2m\n    do: inject\n    building: tower-a\n    kind: pump\n"
            "    fault: burst\n",
            r"case.yaml:8: steps.1.fault: unknown pump fault 'burst'; known faults: .*dry_run",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: inject\n    fault: leak\n",
            r"case.yaml:3: steps.0: name a target: equipment, building or gateway",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: inject\n    equipment: pump-a1\n"
            "    building: tower-a\n    fault: leak\n",
            r"case.yaml:6: steps.0.building: give one target, not both equipment and building",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: power_fail\n    building: tower-a\n"
            "    fault: leak\n",
            r"case.yaml:6: steps.0.fault: power_fail takes no fault",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: inject\n    equipment: fire-a1\n"
            "    fault: fire_alarm\n    params: {zone: 9}\n",
            r"case.yaml:7: steps.0.params: .*'zone' must be within 1..8",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: power_fail\n    building: tower-a\n"
            "    params: {trapped: -1}\n",
            r"case.yaml:6: steps.0.params: power_fail parameter 'trapped' must be within",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: set\n    equipment: pump-a1\n"
            "    values: {speed: 3}\n",
            r"case.yaml:6: steps.0.values: no writable point 'speed'; writable: .*remote_stop",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: inject\n    equipment: pump-a1\n"
            "    kind: pump\n    fault: leak\n",
            r"case.yaml:6: steps.0.kind: kind narrows a building target",
        ),
        (
            "name: x\nstart: '25:00'\nsteps:\n  - {at: 1m, do: clear, equipment: pump-a1}\n",
            r"case.yaml:2: start: .*site time like \"01:50\"",
        ),
        (
            "name: x\nsteps:\n  - at: 1m\n    do: power_fail\n    gateway: 127.0.0.1:5020\n",
            r"case.yaml:4: steps.0.do: a gateway takes inject and clear only",
        ),
        ("name: x\nsteps: []\n", r"case.yaml:2: steps: List should have at least 1 item"),
    ],
)
def test_load_errors_name_file_line_and_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_scenario(write(tmp_path, body))


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{at: 1m, do: inject, equipment: pump-z9, fault: leak}", "steps.1.equipment: no simul"),
        ("{at: 1m, do: power_fail, building: tower-z}", "steps.1.building: no simulated build"),
        (
            "{at: 1m, do: inject, building: tower-a, kind: pump, tags: {system: fire}, "
            "fault: leak}",
            "steps.1.building: no simulated pump tagged {'system': 'fire'} in building 'tower-a'",
        ),
        (
            "{at: 1m, do: inject, equipment: lift-a1, fault: leak}",
            "steps.1.fault: elevator 'lift-a1' has no fault 'leak'",
        ),
        (
            "{at: 1m, do: inject, gateway: '10.0.0.1:502', fault: port_closed}",
            "steps.1.gateway: no simulated gateway '10.0.0.1:502'",
        ),
        (
            "{at: 1m, do: set, equipment: fire-a1, values: {remote_stop: true}}",
            "steps.1.values: fire_panel 'fire-a1' has no writable point 'remote_stop'",
        ),
        (
            "{at: 1m, do: set, equipment: pump-a1, values: {pressure_setpoint: 12}}",
            "steps.1.values.pressure_setpoint: pressure_setpoint 12 is outside 2..8 bar",
        ),
        (
            "{at: 1m, do: set, equipment: pump-a1, values: {remote_stop: 1}}",
            "steps.1.values.remote_stop: remote_stop takes true or false, got 1",
        ),
    ],
)
def test_steps_that_do_not_fit_the_inventory_are_refused_before_any_runs(
    tmp_path: Path, step: str, message: str
) -> None:
    first = "{at: 0s, do: clear, equipment: pump-a1}"
    path = write(tmp_path, f"name: x\nsteps:\n  - {first}\n  - {step}\n")
    s = sim()
    s.inject("pump-a1", "leak")
    with pytest.raises(ConfigError, match=f"case.yaml:4: {message}"):
        s.run_scenario(path)
    assert s.active_faults() == {"pump-a1": ["leak"]}  # the first step did not run either
    assert s.scenarios == []


def test_steps_land_on_their_simulated_second(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: timing\nsteps:\n"
        "  - {at: 90s, do: inject, equipment: pump-a1, fault: leak}\n"
        "  - {at: 0s, do: comm_loss, building: tower-b, kind: lighting}\n"
        "  - {at: 2m, do: set, equipment: pump-a1, values: {pressure_setpoint: 5.5}}\n"
        "  - {at: 90s, do: inject, gateway: '127.0.0.1:5021', fault: slow,"
        " params: {delay_s: 0.5}}\n"
        "  - {at: 1h, do: comm_restore, building: tower-b, kind: lighting}\n"
        "  - {at: 1h, do: clear, equipment: pump-a1}\n",
    )
    s = sim()
    run = s.run_scenario(path)
    assert s.active_faults() == {"light-b1": ["offline"], "light-b2": ["offline"]}
    assert [e["did"] for e in run.log] == ["comm_loss tower-b"]
    s.advance(89.9)
    assert "pump-a1" not in s.active_faults()
    s.advance(0.1)
    assert s.active_faults()["pump-a1"] == ["leak"]
    assert s.active_faults()["127.0.0.1:5021"] == ["slow"]
    assert s.services["127.0.0.1:5021"].delay == 0.5
    assert s.devices["pump-a1"].model.now == pytest.approx(NOON_HK + 90)
    s.advance(30)
    assert s.models["pump-a1"].values()["pressure_setpoint"] == 5.5
    assert not run.done and run.next_due() == pytest.approx(NOON_HK + 3600)
    s.advance(7200)
    assert run.done and run.finished.is_set()
    assert s.active_faults() == {"127.0.0.1:5021": ["slow"]}
    assert [e["step"] for e in run.log] == [1, 0, 3, 2, 4, 5]
    assert all("error" not in e for e in run.log)
    assert s.scenario_list()[0]["applied"] == 6


def test_building_wide_port_closed_reaches_every_gateway_of_the_building(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: gw\nsteps:\n  - {at: 0s, do: inject, building: tower-a, fault: port_closed}\n"
        "  - {at: 1m, do: clear, building: tower-a, fault: port_closed}\n",
    )
    s = sim()
    s.run_scenario(path)
    assert s.gateway_faults == {"127.0.0.1:5020": {"port_closed": {}}}
    s.advance(60)
    assert s.gateway_faults == {}


def test_a_start_time_of_day_delays_the_scenario_clock() -> None:
    assert clock_start(None, NOON_HK, HK) == NOON_HK
    assert clock_start("12:00", NOON_HK, HK) == NOON_HK
    assert clock_start("13:30", NOON_HK, HK) == NOON_HK + 5400
    assert clock_start("01:50", NOON_HK, HK) == NOON_HK + 13 * 3600 + 50 * 60
    s = sim()
    run = s.run_scenario(REPO / "sites" / "scenarios" / "burst-pipe-at-night.yaml")
    first = datetime.fromtimestamp(run.next_due(), HK)
    assert (first.hour, first.minute, first.day) == (2, 0, 3)


def test_a_scenario_travels_to_the_control_endpoint_with_its_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: remote\nsteps:\n  - at: 1m\n    do: inject\n    equipment: pump-q\n"
        "    fault: leak\n",
    )
    body = load_scenario(path).to_request()
    again = scenario_from_request(body)
    assert isinstance(again, Scenario) and again.steps == load_scenario(path).steps
    with pytest.raises(ConfigError, match=r"case.yaml:5: steps.0.equipment: no simulated"):
        sim().run_scenario(again)
    with pytest.raises(ConfigError, match=r"<request>: steps: Field required"):
        scenario_from_request({"scenario": {"name": "x"}})
