"""The simulators' test harness: the two-building site of tests/data/two-buildings.yaml served
on free ports, and a model run on simulated time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.devices import ModbusDevice
from simulators.models.base import DeviceModel
from simulators.registers import Value
from simulators.runner import Simulation
from tests.harness import write_site

HOST = "127.0.0.1"

ModelT = TypeVar("ModelT", bound=DeviceModel)


def advance_until(model: ModelT, cond: Callable[[ModelT], bool], limit: float, step: float) -> None:
    """Advance `model` by `step` simulated seconds at a time until `cond` holds of it; fail
    once `limit` simulated seconds have passed without."""
    t = 0.0
    while not cond(model):
        assert t < limit, f"condition not reached within {limit} simulated seconds"
        model.advance(step)
        t += step


def sample_values(model: DeviceModel, seconds: float, step: float) -> list[dict[str, Value]]:
    """`model`'s values after each `step` simulated seconds, for `seconds`."""
    out = []
    for _ in range(int(seconds / step)):
        model.advance(step)
        out.append(model.values())
    return out


def write_one_building(path: Path, site: str, floors: int, equipment: list[dict[str, Any]]) -> Path:
    """An inventory of site `site` (UTC) whose one building, b1 of `floors` floors, holds
    `equipment`, written to `path`/site.yaml."""
    inv = {
        "site": {"id": site, "timezone": "UTC"},
        "buildings": [{"id": "b1", "floors": floors, "equipment": equipment}],
    }
    file = path / "site.yaml"
    file.write_text(yaml.safe_dump(inv))
    return file


def big_endian_32(words: list[int], order: str) -> bytes:
    """Two register words of a 32-bit value in word/byte `order`, as the value's big-endian
    bytes (worked out here, independent of simulators/)."""
    data = b"".join(w.to_bytes(2, "big") for w in words)
    return {
        "ABCD": data,
        "CDAB": data[2:] + data[:2],
        "BADC": bytes((data[1], data[0], data[3], data[2])),
        "DCBA": data[::-1],
    }[order]


def write_two_buildings(
    path: Path, port_a: int, port_b: int, *, without: Collection[str] = (), **site: str
) -> Path:
    """tests/data/two-buildings.yaml in `path`, b1's gateway on `port_a` and b2's on `port_b`,
    the equipment in `without` left out."""
    file = write_site(path / "site.yaml", "two-buildings", {5020: port_a, 5021: port_b}, **site)
    if without:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        for building in doc["buildings"]:
            building["equipment"] = [e for e in building["equipment"] if e["id"] not in without]
        file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return file


class Site:
    """The simulators serving the two buildings, b1 on `port_a` and b2 on `port_b`."""

    def __init__(self, sim: Simulation, port_a: int, port_b: int) -> None:
        self.sim = sim
        self.port_a = port_a
        self.port_b = port_b

    @property
    def url(self) -> str:
        """The control API's base URL (when the simulation serves one)."""
        assert self.sim.control_url is not None
        return self.sim.control_url

    def device(self, eid: str) -> ModbusDevice:
        dev = self.sim.devices[eid]
        assert isinstance(dev, ModbusDevice)
        return dev


@asynccontextmanager
async def two_buildings(
    tmp_path: Path, *, control: bool = False, **site: str
) -> AsyncIterator[Site]:
    """The two buildings served with time nearly frozen (tests move it on with
    `sim.advance()`), and the control API when `control`."""
    port_a, port_b = free_port(), free_port()
    path = write_two_buildings(tmp_path, port_a, port_b, **site)
    settings = SimSettings(inventory=path, sim_control_port=free_port(), sim_speed=1e-6)
    async with Simulation(load_inventory(path), settings, control=control) as sim:
        yield Site(sim, port_a, port_b)
