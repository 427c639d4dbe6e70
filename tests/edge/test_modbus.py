"""A serial hub whose port cannot be opened fails its reads, backs off, and never raises
anything but a DeviceError (which the agent turns into an offline status)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import DeviceTimeout, DeviceUnreachable
from edge.modbus import ModbusHub
from plantroom.inventory import ModbusRtu
from plantroom.profiles import Table


@pytest.fixture
def pty() -> Iterator[str]:
    """A pseudo-terminal: opens like a serial port, but refuses parity E."""
    controller, port = os.openpty()
    try:
        yield os.ttyname(port)
    finally:
        os.close(controller)
        os.close(port)


def serial_hub(device: str, parity: str = "N") -> ModbusHub:
    conn = ModbusRtu.model_validate(
        {"type": "modbus_rtu", "device": device, "parity": parity, "unit": 1}
    )
    return ModbusHub(
        conn, timeout=0.2, backoff_initial=30.0, backoff_max=60.0, rng=random.Random(1)
    )


async def assert_cannot_open(hub: ModbusHub, device: str) -> DeviceUnreachable:
    try:
        with pytest.raises(DeviceUnreachable) as first:
            await hub.read(Table.HOLDING, 0, 2, 1)
        assert first.value.reason == "cannot open serial port"
        assert device in str(first.value)
        assert hub.connects == 1 and not hub.connected
        # backing off: the next read fails fast with the same reason, without a new attempt
        with pytest.raises(DeviceUnreachable) as again:
            await hub.read(Table.HOLDING, 0, 2, 1)
        assert again.value.reason == "cannot open serial port"
        assert hub.connects == 1
        return first.value
    finally:
        await hub.close()


async def test_a_port_that_refuses_its_settings_is_unreachable(pty: str) -> None:
    # opening a pty with parity E raises termios.error inside pymodbus' connect
    error = await assert_cannot_open(serial_hub(pty, parity="E"), pty)
    assert "invalid argument" in str(error)


async def test_a_regular_file_is_not_a_serial_port(tmp_path: Path) -> None:
    path = tmp_path / "not-a-port"
    path.write_bytes(b"")
    await assert_cannot_open(serial_hub(str(path)), str(path))


async def test_a_missing_device_is_unreachable(tmp_path: Path) -> None:
    path = str(tmp_path / "ttyUSB-missing")
    await assert_cannot_open(serial_hub(path), path)


async def test_the_same_pty_opens_with_parity_n(pty: str) -> None:
    hub = serial_hub(pty)
    try:
        with pytest.raises(DeviceTimeout):  # the port opens; nobody answers on the line
            await hub.read(Table.HOLDING, 0, 2, 1)
        assert hub.connects == 1
    finally:
        await hub.close()
