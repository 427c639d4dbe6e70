"""`plantroom check --probe` against the simulators: every planned block of a device read once,
and a wrong unit id told apart from a dead device."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from plantroom.sitecheck import load_site
from simulators.runner import Simulation
from stack.check import Report
from stack.check.probe import probe_site
from tests.edge.harness import modbus_pump
from tests.simulators.harness import write_one_building

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("framing", ["modbus_tcp", "modbus_rtu_over_tcp"])
async def test_a_wrong_unit_id_is_told_from_the_units_that_answer(
    tmp_path: Path, framing: str
) -> None:
    port = free_port()

    def pump(eq_id: str, unit: int) -> dict[str, object]:
        entry = modbus_pump(eq_id, port, unit)
        entry["connection"] = {**entry["connection"], "type": framing}
        return entry

    served = write_one_building(tmp_path, "probe", 2, [pump("pump-a1", 1), pump("pump-a2", 11)])
    (tmp_path / "check").mkdir()
    checked = write_one_building(
        tmp_path / "check", "probe", 2, [pump("pump-a1", 7), pump("pump-a2", 11)]
    )
    settings = SimSettings(inventory=served, sim_control_port=free_port(), sim_speed=1e-6)
    async with Simulation(load_inventory(served), settings):
        results = await probe_site(load_site(checked), request_timeout=0.5, deadline=30)
    good = [r for r in results if r.equipment == "pump-a2"]
    assert good and all(r.outcome == "answered" for r in good)
    assert {r.read.split()[0] for r in good} == {"input", "discrete"}
    wrong = [r for r in results if r.equipment == "pump-a1"]
    assert len(wrong) == len(good)
    first = wrong[0]
    # a TCP gateway answers exception 11 for a unit nobody answers to; an RTU line is silent
    expected = "exception" if framing == "modbus_tcp" else "timeout"
    assert all(r.outcome == expected for r in wrong)
    assert first.target == f"127.0.0.1:{port} unit 7"
    assert (
        f"unit 7 does not answer; unit 1, unit 11 (pump-a2's) answer on 127.0.0.1:{port} "
        "— check the unit id" in first.detail
    )
    assert first.where.startswith(f"{checked}:")
    entry = int(first.where.rsplit(":", 1)[1])  # the entry's first line, its id a few below
    lines = checked.read_text().splitlines()[entry - 1 : _line_of(checked, "pump-a1")]
    assert lines[0].lstrip().startswith("- ")
    assert not any(line.lstrip().startswith("- ") for line in lines[1:])
    report = Report([], results)
    assert report.exit_code == 2
    assert [f.code for f in report.all_findings] == [f"probe-{expected}"] * len(wrong)


async def test_a_device_that_is_not_there_is_unreachable_and_the_deadline_bounds_it(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    site = write_one_building(tmp_path, "probe", 2, [modbus_pump("pump-a1", port, 1)])
    results = await probe_site(load_site(site), request_timeout=0.5, deadline=5)
    assert results and all(r.outcome == "unreachable" for r in results)
    assert "connection refused" in results[0].detail
    results = await probe_site(load_site(site), request_timeout=0.5, deadline=0)
    assert results and all(r.outcome == "not-tried" for r in results)


def _line_of(path: Path, text: str) -> int:
    return 1 + next(n for n, line in enumerate(path.read_text().splitlines()) if text in line)
