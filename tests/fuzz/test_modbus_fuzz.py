"""The edge's Modbus reading code against a misbehaving Modbus TCP server.

A `ModbusHub` (the one connection the agent's devices share) reads through a server that
answers with exception responses, truncated frames, wrong transaction ids, unit ids,
function codes or byte counts, bad MBAP lengths, random bytes from hypothesis, silence or
a dropped connection. Every read must end, within its bound, in either correct data or a
`DeviceError` that classifies as a timeout, an exception code, a protocol error or a lost
connection; and once the server behaves again, reads succeed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import DeviceError, DeviceExceptionResponse, DeviceTimeout, DeviceUnreachable
from edge.modbus import ModbusDevice, ModbusHub
from plantroom.inventory import ModbusTcp
from plantroom.profiles import SHIPPED_DIR, ModbusProfile, Table, load_profile
from tests.fuzz.budget import expensive
from tests.fuzz.misbehaving_modbus import (
    FAULTS,
    Fault,
    Misbehaving,
    expected_bit,
    expected_register,
)

TIMEOUT_S = 0.15
# the longest one read may take: the hub's own bound (2 * timeout + 1 s) plus a margin
READ_BOUND_S = TIMEOUT_S * 2 + 1 + 1.0
UNIT = 7
PROFILES = SHIPPED_DIR

# what each fault may end in. "answered" (the read returns) is only allowed where the right
# data can still be read from the frame, and the data is then checked. pymodbus closes the
# connection on some malformed frames, so a corrupted answer may also end as "connection".
CORRUPT = {"timeout", "protocol", "connection", "answered"}
ALLOWED: dict[str, set[str]] = {
    "exception": {"exception"},
    "silent": {"timeout"},
    "truncated": {"timeout"},
    "truncated_close": {"timeout", "connection"},
    "wrong_tid": {"timeout"},
    "wrong_unit": {"timeout"},
    "wrong_function": CORRUPT,
    "wrong_byte_count": CORRUPT,
    "short_data": CORRUPT - {"answered"},
    "bad_length": CORRUPT,
    "garbage": CORRUPT | {"exception"},
    "close": {"timeout", "connection"},
}


def classify(error: DeviceError) -> str:
    """timeout / exception / protocol / connection: how the agent reports a failed read."""
    if isinstance(error, DeviceTimeout):
        return "timeout"
    if isinstance(error, DeviceExceptionResponse):
        return "exception"
    if isinstance(error, DeviceUnreachable) and error.reason in (
        "protocol error",
        "short response",
    ):
        return "protocol"
    if isinstance(error, DeviceUnreachable) and error.reason == "connection lost":
        return "connection"
    raise AssertionError(f"unclassified device error {type(error).__name__}: {error}")


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: list[tuple[str, str]] = field(default_factory=list)

    def failed(self, fault: Fault, error: DeviceError) -> str:
        kind = classify(error)
        self.outcomes[kind] += 1
        self.reasons.append((fault.kind, str(error)))
        return kind


faults = st.one_of(
    st.builds(Fault, st.just("exception"), code=st.integers(1, 255)),
    st.builds(
        Fault,
        st.sampled_from(["truncated", "truncated_close", "bad_length"]),
        cut=st.integers(1, 12),
    ),
    st.builds(Fault, st.just("garbage"), data=st.binary(min_size=1, max_size=64)),
    st.builds(
        Fault,
        st.sampled_from(
            [
                "silent",
                "wrong_tid",
                "wrong_unit",
                "wrong_function",
                "wrong_byte_count",
                "short_data",
                "close",
            ]
        ),
    ),
)
reads = st.tuples(st.sampled_from(list(Table)), st.integers(0, 1000), st.integers(2, 20))


def check_data(table: Table, address: int, count: int, data: list[int]) -> None:
    if table.is_bits:
        assert data == [expected_bit(address + i) for i in range(count)]
    else:
        assert data == [expected_register(address + i, UNIT) for i in range(count)]


async def read_once(hub: ModbusHub, table: Table, address: int, count: int) -> list[int]:
    async with asyncio.timeout(READ_BOUND_S):  # a hang fails here, not at the test timeout
        return await hub.read(table, address, count, UNIT)


async def read_until_ok(hub: ModbusHub, table: Table, address: int, count: int) -> list[int]:
    """Reads after the server behaves again: succeed within a few reconnect backoffs."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return await read_once(hub, table, address, count)
        except DeviceError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"reads did not recover after the server behaved again: {exc}")
            await asyncio.sleep(0.02)


def hub_on(port: int) -> ModbusHub:
    """The edge's hub for unit UNIT on 127.0.0.1:`port`, with short timeouts and backoffs."""
    connection = ModbusTcp(type="modbus_tcp", host="127.0.0.1", port=port, unit=UNIT)
    return ModbusHub(connection, timeout=TIMEOUT_S, backoff_initial=0.02, backoff_max=0.1)


async def run_script(script: list[tuple[Fault, tuple[Table, int, int]]]) -> Tally:
    tally = Tally()
    async with Misbehaving() as server:
        hub = hub_on(server.port)
        try:
            first = (Table.HOLDING, 0, 4)
            check_data(*first, await read_until_ok(hub, *first))
            for fault, (table, address, count) in script:
                server.script.append(fault)
                try:
                    data = await read_once(hub, table, address, count)
                except DeviceError as exc:
                    kind = tally.failed(fault, exc)
                    assert kind in ALLOWED[fault.kind], (fault, str(exc))
                    if fault.kind == "exception":
                        assert isinstance(exc, DeviceExceptionResponse)
                        assert exc.code == fault.code
                else:
                    # a lenient decode is allowed; wrong data never is
                    assert "answered" in ALLOWED[fault.kind], (fault, data)
                    check_data(table, address, count, data)
                    tally.outcomes["answered"] += 1
                server.script.clear()  # a fault not consumed (the read never reached it)
                check_data(table, address, count, await read_until_ok(hub, table, address, count))
        finally:
            await hub.close()
    return tally


@pytest.mark.integration
@given(st.lists(st.tuples(faults, reads), min_size=1, max_size=4))
@expensive(25)
def test_every_misbehaviour_ends_in_a_classified_error_and_reads_recover(
    script: list[tuple[Fault, tuple[Table, int, int]]],
) -> None:
    tally = asyncio.run(run_script(script))
    assert sum(tally.outcomes.values()) == len(script)
    assert all(reason for _, reason in tally.reasons)


@pytest.mark.integration
def test_each_kind_of_fault_is_counted_under_its_class() -> None:
    """One of every fault, in turn: the counts per class are what the faults call for."""
    script = [(Fault(kind), (Table.INPUT, 10, 5)) for kind in FAULTS if kind != "garbage"]
    script += [(Fault("garbage", data=b"\x00\x01\x02"), (Table.COIL, 3, 9))]
    tally = asyncio.run(run_script(script))
    assert sum(tally.outcomes.values()) == len(script)
    assert tally.outcomes["exception"] == 1
    assert tally.outcomes["timeout"] >= 4  # silent, truncated, wrong_tid, wrong_unit at least
    assert tally.outcomes["answered"] == 0


@pytest.mark.integration
async def test_a_device_poll_marks_points_unavailable_and_recovers() -> None:
    """Through `ModbusDevice.poll`, as the agent reads: a fault marks the points of the
    failed read unavailable and names the error; the next poll is whole again."""
    profile = load_profile(PROFILES / "plantroom-sim-pump.yaml")
    assert isinstance(profile, ModbusProfile)
    async with Misbehaving() as server:
        hub = hub_on(server.port)
        device = ModbusDevice(hub, UNIT, profile)
        points = list(profile.points)
        try:
            for kind in ("exception", "garbage", "silent", "close"):
                server.script.append(Fault(kind, data=b"\xff" * 9))
                async with asyncio.timeout(READ_BOUND_S * len(device.plan(points))):
                    result = await device.poll(points)
                assert result.error is not None
                classify(result.error)
                assert result.failed_reads >= 1
                assert any(q == "unavailable" for q in result.quality.values())
                server.script.clear()
                deadline = time.monotonic() + 10
                while True:
                    async with asyncio.timeout(READ_BOUND_S * len(device.plan(points))):
                        healthy = await device.poll(points)
                    if not healthy.errors:
                        break
                    assert time.monotonic() < deadline, healthy.errors
                    await asyncio.sleep(0.02)
                assert healthy.failed_reads == 0 and not healthy.quality
        finally:
            await hub.close()
