"""The edge agent against a real broker and a Modbus TCP device served in the test
(tests/edge/device.py), which can make a unit fall silent or answer with an exception."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from edge.buffer import SampleBuffer
from edge.errors import DeviceExceptionResponse, DeviceTimeout, DeviceUnreachable
from edge.modbus import ModbusDevice as PolledDevice
from edge.modbus import ModbusHub
from plantroom.inventory import Inventory, ModbusTcp
from plantroom.ports import free_port
from plantroom.profiles import ModbusProfile, Poll, ProfileLibrary, Table
from plantroom.schema import Telemetry
from plantroom.topics import edge_status
from stack.services import Mosquitto
from tests.edge.device import ModbusDevice, Unit, pump_unit
from tests.edge.harness import (
    Collector,
    modbus_pump,
    one_building,
    one_pump,
    running,
    settings,
    site_id,
    topic,
)
from tests.harness import REPO, wait_for_async

pytestmark = pytest.mark.integration


# -- a Modbus TCP device ------------------------------------------------------------------


# -- MQTT helpers -------------------------------------------------------------------------


def statuses(c: Collector, t: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in c.payloads(t)]


# -- the hub ------------------------------------------------------------------------------


async def test_hub_reads_and_translates_errors() -> None:
    units = {
        1: Unit(holding={0: 7, 1: 8}, coils={2: True}),
        2: Unit(silent=True),
        3: Unit(exception=2),
    }
    async with ModbusDevice(units) as device:
        conn = ModbusTcp(type="modbus_tcp", host="127.0.0.1", port=device.port)
        hub = ModbusHub(conn, timeout=0.3, inter_frame_delay=0.01)
        try:
            assert await hub.read(Table.HOLDING, 0, 3, 1) == [7, 8, 0]
            assert await hub.read(Table.COIL, 0, 4, 1) == [0, 0, 1, 0]
            with pytest.raises(DeviceExceptionResponse) as exc_info:
                await hub.read(Table.HOLDING, 0, 1, 3)
            assert exc_info.value.reason == "exception code 2 (illegal data address)"
            started = time.monotonic()
            with pytest.raises(DeviceTimeout):
                await hub.read(Table.HOLDING, 0, 1, 2)
            assert time.monotonic() - started < 1.0
            # the silent unit did not cost the others their connection
            assert await hub.read(Table.HOLDING, 1, 1, 1) == [8]
            assert hub.connects == 1
        finally:
            await hub.close()


async def test_hub_reports_connection_refused_and_backs_off() -> None:
    conn = ModbusTcp(type="modbus_tcp", host="127.0.0.1", port=free_port())
    hub = ModbusHub(conn, timeout=0.3, backoff_initial=5.0)
    try:
        with pytest.raises(DeviceUnreachable) as exc_info:
            await hub.read(Table.HOLDING, 0, 1, 1)
        assert exc_info.value.reason == "connection refused"
        with pytest.raises(DeviceUnreachable):
            await hub.read(Table.HOLDING, 0, 1, 1)
        assert hub.connects == 1  # the second read failed fast, inside the backoff
    finally:
        await hub.close()


async def test_hub_recovers_after_the_device_restarts() -> None:
    units = {1: Unit(holding={0: 5})}
    device = ModbusDevice(units)
    await device.start()
    conn = ModbusTcp(type="modbus_tcp", host="127.0.0.1", port=device.port)
    hub = ModbusHub(conn, timeout=0.3, backoff_initial=0.05, backoff_max=0.1)
    try:
        assert await hub.read(Table.HOLDING, 0, 1, 1) == [5]
        await device.stop()
        with pytest.raises(DeviceUnreachable):
            await hub.read(Table.HOLDING, 0, 1, 1)
        await device.start()

        async def read() -> list[int] | None:
            try:
                return await hub.read(Table.HOLDING, 0, 1, 1)
            except DeviceUnreachable:
                return None

        assert await wait_for_async(read, "the hub to reconnect", within=15) == [5]
    finally:
        await hub.close()
        await device.stop()


# -- the agent ----------------------------------------------------------------------------


async def test_decoded_telemetry_arrives_with_increasing_seq(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with one_pump(mosquitto, tmp_path) as pump:
        site, inv, s, tele = pump.site, pump.inv, pump.settings, pump.tele
        async with Collector(mosquitto, [f"plantroom/v1/{site}/#"]) as c:
            async with running(s, inv) as agent:
                msgs = await c.wait(
                    lambda: len(c.telemetry(tele)) >= 8 and c.telemetry(tele), 10, "telemetry"
                )
                assert agent.status("pump-1")[0] is not None
            first = msgs[0]
            assert first.points == {
                "run_state": "running",
                "speed": 1450,
                "current": 12.3,
                "power": 4.56,
                "discharge_pressure": 3.5,
                "flow": None,
                "motor_temperature": -3.0,
                "vibration": 0.12,
                "sump_level": None,
                "run_hours": 655.36,
                "starts": 42,
                "alarm_code": "dry_run",
                "warning_code": "code_999",
                "dry_run": True,
                "low_pressure": False,
                "over_current": False,
                "high_level": True,
                "leak": False,
            }
            assert first.quality == {"flow": "unavailable", "sump_level": "unavailable"}
            seqs = [m.seq for m in msgs]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert all(a.ts <= b.ts for a, b in itertools.pairwise(msgs))
            # fast points every cycle, normal every 5th, slow every 30th
            assert all("run_state" in m.points for m in msgs)
            assert sum("speed" in m.points for m in msgs) < len(msgs)
            assert json.loads(c.payloads(topic(site, "pump-1", "status"))[0])["status"] == "online"
            edge = c.payloads(edge_status(site, s.edge_agent_id))
            await c.wait(
                lambda: c.payloads(edge_status(site, s.edge_agent_id))[-1:] == [b"offline"],
                15,
                "offline",
            )
            assert edge[0] == b"online"


async def test_device_polls_in_coalesced_reads() -> None:
    unit = pump_unit()
    profile, _ = ProfileLibrary().get("plantroom-sim-pump")
    assert isinstance(profile, ModbusProfile)
    async with ModbusDevice({11: unit}) as server:
        hub = ModbusHub(
            ModbusTcp(type="modbus_tcp", host="127.0.0.1", port=server.port), timeout=0.3
        )
        device = PolledDevice(hub, 11, profile)
        try:
            result = await device.poll(profile.points)
            assert unit.requests == 2  # input 0..15 (gaps of up to 8 filled), discrete 0..4
            assert result.values["current"] == 12.3 and result.answered
            fast = [p for p in profile.points if p.poll is Poll.FAST]
            await device.poll(fast)
            assert unit.requests == 2 + 3  # input 0, input 14..15, discrete 0..4
            unit.silent = True
            result = await device.poll(profile.points)
            assert unit.requests == 5
            assert not result.answered and isinstance(result.error, DeviceTimeout)
            assert result.reads == result.failed_reads == 2
            assert set(result.quality) == {p.name for p in profile.points}
        finally:
            await hub.close()


async def test_device_goes_offline_with_a_reason_and_recovers(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = site_id()
    good = pump_unit()
    dead = pump_unit()
    async with ModbusDevice({11: good, 12: dead}) as device:
        inv = one_building(
            site, [modbus_pump("pump-1", device.port, 11), modbus_pump("pump-2", device.port, 12)]
        )
        s = settings(mosquitto, tmp_path)
        status2 = topic(site, "pump-2", "status")
        tele1 = topic(site, "pump-1", "telemetry")
        async with Collector(mosquitto, [f"plantroom/v1/{site}/#"]) as c, running(s, inv) as agent:
            await c.wait(lambda: statuses(c, status2), 10, "pump-2 online")
            dead.silent = True
            offline = await c.wait(
                lambda: [x for x in statuses(c, status2) if x["status"] == "offline"],
                10,
                "pump-2 offline",
            )
            assert offline[0]["reason"] == "timeout"
            assert agent.status("pump-2") == ("offline", "timeout")
            # a dead unit on the shared link does not stall its neighbour. Each retry of the
            # dead unit holds the link for its 0.3 s timeout and the retries are spaced by a
            # jittered backoff that settles at 0.2..0.4 s, so the neighbour gets ~6 polls/s (a
            # 2 s window could see fewer than 10 on an unlucky draw of the jitter). One that
            # waited out the dead unit every cycle would get at most 1 / 0.3 s: 13 in this 4 s
            # window.
            # This sleep is the measurement window, not a synchronisation.
            before = len(c.telemetry(tele1))
            await asyncio.sleep(4.0)
            assert len(c.telemetry(tele1)) - before >= 16
            dead.silent = False
            await c.wait(
                lambda: statuses(c, status2)[-1]["status"] == "online", 10, "pump-2 back online"
            )
            assert agent.status("pump-1") == ("online", None)

            await device.stop()
            refused = await c.wait(
                lambda: [
                    x for x in statuses(c, status2) if x.get("reason") == "connection refused"
                ],
                10,
                "connection refused",
            )
            assert refused[0]["status"] == "offline"
            await device.start()
            await c.wait(lambda: statuses(c, status2)[-1]["status"] == "online", 10, "online again")


async def test_exception_response_marks_points_unavailable(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = site_id()
    unit = pump_unit()
    unit.exception = 4
    async with ModbusDevice({11: unit}) as device:
        inv = one_building(site, [modbus_pump("pump-1", device.port, 11)])
        s = settings(mosquitto, tmp_path, edge_offline_after=3)
        status = topic(site, "pump-1", "status")
        async with Collector(mosquitto, [f"plantroom/v1/{site}/#"]) as c, running(s, inv):
            tele = await c.wait(
                lambda: c.telemetry(topic(site, "pump-1", "telemetry")), 10, "telemetry"
            )
            assert tele[0].points["run_state"] is None
            assert tele[0].quality is not None and tele[0].quality["run_state"] == "unavailable"
            st = await c.wait(lambda: statuses(c, status), 10, "status")
            assert st[0] == {
                "status": "offline",
                "reason": "exception code 4 (server device failure)",
                "ts": st[0]["ts"],
            }


async def test_store_and_forward_across_a_broker_outage(
    fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with one_pump(fresh_mosquitto, tmp_path) as pump:
        inv, s, tele = pump.inv, pump.settings, pump.tele
        async with Collector(fresh_mosquitto, [tele]) as c, running(s, inv) as agent:
            await c.wait(lambda: len(c.telemetry(tele)) >= 5, 10, "telemetry before the outage")
            await asyncio.to_thread(fresh_mosquitto.stop)
            down_at = time.time() * 1000
            # samples taken while the broker was stopping are buffered too but are older than
            # `down_at` (a slow stop could leave many): count only the ones taken since
            before = agent.buffer_stats().depth
            await wait_for_async(
                lambda: agent.buffer_stats().depth >= before + 15,
                "samples buffered while down",
                within=20,
            )
            assert not agent.publisher_stats().connected
            up_at = time.time() * 1000
            await asyncio.to_thread(fresh_mosquitto.start)
            last = agent.buffer.next_seq("pump-1") - 1 if agent.buffer else 0
            await c.wait(
                lambda: any(m.seq >= last for m in c.telemetry(tele)),
                20,
                f"seq {last} after the outage",
            )
            await wait_for_async(
                lambda: agent.publisher_stats().connected, "reconnected", within=15
            )
        got = c.telemetry(tele)
        first_seen: dict[int, Telemetry] = {}
        for m in got:
            first_seen.setdefault(m.seq, m)
        order = list(first_seen)
        assert order == sorted(order), "samples arrived out of order"
        assert order == list(range(order[0], order[-1] + 1)), "a sample is missing"
        during = [m for m in first_seen.values() if down_at <= m.ts <= up_at]
        assert len(during) >= 10, "samples taken during the outage kept their own timestamps"
        tss = [m.ts for m in first_seen.values()]
        assert tss == sorted(tss)


async def test_seq_continues_across_agent_restarts(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with one_pump(mosquitto, tmp_path) as pump:
        inv, s, tele = pump.inv, pump.settings, pump.tele
        async with Collector(mosquitto, [tele]) as c:
            async with running(s, inv):
                await c.wait(lambda: len(c.telemetry(tele)) >= 3, 10, "first run")
            with SampleBuffer(s.edge_buffer_path, 1000) as left:
                assert left.depth == 0  # a clean stop sends what was queued
            seen = len(c.telemetry(tele))
            top = max(m.seq for m in c.telemetry(tele))
            async with running(s, inv):
                await c.wait(lambda: len(c.telemetry(tele)) >= seen + 3, 10, "second run")
        first_run = {m.seq for m in c.telemetry(tele)[:seen]}
        later = [m.seq for m in c.telemetry(tele)[seen:]]
        resent = [q for q in later if q <= top]
        assert set(resent) <= first_run  # at least once: an unacknowledged sample may come again
        fresh = [q for q in later if q > top]
        assert fresh == list(range(top + 1, top + 1 + len(fresh)))


def one_lighting_controller() -> tuple[str, str, Inventory]:
    """A site with one lighting controller `light-1`: (site, its vendor topic, inventory)."""
    site = site_id()
    vendor = f"lumen/{site}/state"
    equipment = {
        "id": "light-1",
        "kind": "lighting",
        "profile": "lumen-lc4",
        "connection": {"type": "mqtt", "topic": vendor},
    }
    return site, vendor, one_building(site, [equipment])


async def test_vendor_mqtt_equipment(mosquitto: Mosquitto, tmp_path: Path) -> None:
    site, vendor, inv = one_lighting_controller()
    s = settings(mosquitto, tmp_path)
    tele = topic(site, "light-1", "telemetry", kind="lighting")
    status = topic(site, "light-1", "status", kind="lighting")
    doc = {
        "device": "lc",
        "time": 1_700_000_000_123,
        "mains_v": 231.5,
        "circuits": [
            {
                "n": 1,
                "on": True,
                "power_w": 410.0,
                "lamps": 12,
                "failed": 1,
                "tripped": False,
                "burn_h": 10.5,
            }
        ],
    }
    async with Collector(mosquitto, [f"plantroom/v1/{site}/#"]) as c, running(s, inv) as agent:
        assert agent.publisher is not None
        await wait_for_async(agent.publisher.connected_event.is_set, "agent connected", within=10)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
            await device.publish(vendor, b"{broken", qos=1)
            await device.publish(vendor, json.dumps(doc).encode(), qos=1)
            msgs = await c.wait(lambda: c.telemetry(tele), 10, "lighting telemetry")
        assert msgs[0].ts == 1_700_000_000_123
        assert msgs[0].points["mains_voltage"] == 231.5
        assert msgs[0].points["circuit_1_on"] is True
        assert msgs[0].points["circuit_1_failed_lamps"] == 1
        assert msgs[0].points["circuit_2_on"] is None
        assert msgs[0].quality is not None and msgs[0].quality["circuit_2_on"] == "unavailable"
        assert agent.stats()["malformed_vendor_messages"] == {vendor: 1}
        assert statuses(c, status)[0]["status"] == "online"
        stale = await c.wait(
            lambda: [x for x in statuses(c, status) if x["status"] == "stale"], 10, "stale"
        )
        assert stale[0]["reason"] == "no message for 1 s"


async def test_clean_stop_publishes_offline_retained(mosquitto: Mosquitto, tmp_path: Path) -> None:
    site = site_id()
    inv = one_building(site, [modbus_pump("pump-1", free_port(), 11)])
    s = settings(mosquitto, tmp_path)
    async with running(s, inv) as agent:
        assert agent.publisher is not None
        await wait_for_async(agent.publisher.connected_event.is_set, "agent connected", within=10)
    async with Collector(mosquitto, [edge_status(site, s.edge_agent_id)]) as c:
        retained = await c.wait(lambda: c.messages, 15, "retained edge status")
    assert retained[0][1:] == (b"offline", True)


def process_env(mosquitto: Mosquitto, tmp_path: Path, site: str, port: int) -> dict[str, str]:
    """The environment of a `plantroom edge` process serving one pump at `port`."""
    path = tmp_path / "site.yaml"
    path.write_text(
        json.dumps(
            {
                "site": {"id": site},
                "buildings": [{"id": "b1", "equipment": [modbus_pump("pump-1", port, 11)]}],
            }
        )
    )
    return {
        **os.environ,
        "PLANTROOM_INVENTORY": str(path),
        "PLANTROOM_MQTT_HOST": mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(mosquitto.port),
        "PLANTROOM_EDGE_AGENT_ID": f"edge-{uuid.uuid4().hex[:8]}",
        "PLANTROOM_EDGE_BUFFER_PATH": str(tmp_path / "var" / "edge.sqlite"),
        "PLANTROOM_EDGE_POLL_INTERVAL_S": "0.1",
    }


async def start_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stack",
        "edge",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_the_process_stops_cleanly_on_sigterm(mosquitto: Mosquitto, tmp_path: Path) -> None:
    site = site_id()
    async with ModbusDevice({11: pump_unit()}) as device:
        env = process_env(mosquitto, tmp_path, site, device.port)
        tele = topic(site, "pump-1", "telemetry")
        status = edge_status(site, env["PLANTROOM_EDGE_AGENT_ID"])
        async with Collector(mosquitto, [tele, status]) as c:
            proc = await start_process(env)
            try:
                await c.wait(lambda: c.telemetry(tele), 30, "telemetry from the process")
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), 20)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert proc.returncode == 0, err.decode(errors="replace")
            await c.wait(lambda: c.payloads(status)[-1:] == [b"offline"], 15, "offline status")
        assert b"stopping on signal" in err


async def test_a_killed_process_is_reported_offline_by_its_will(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = site_id()
    async with ModbusDevice({11: pump_unit()}) as device:
        env = process_env(mosquitto, tmp_path, site, device.port)
        status = edge_status(site, env["PLANTROOM_EDGE_AGENT_ID"])
        async with Collector(mosquitto, [status]) as c:
            proc = await start_process(env)
            try:
                await c.wait(lambda: c.payloads(status)[-1:] == [b"online"], 30, "online status")
            finally:
                proc.kill()  # no DISCONNECT: the broker publishes the will
                await proc.communicate()
            await c.wait(lambda: c.payloads(status)[-1:] == [b"offline"], 10, "the will")
        async with Collector(mosquitto, [status]) as c:
            retained = await c.wait(lambda: c.messages, 15, "the retained status")
        assert retained[0][1:] == (b"offline", True)


async def test_a_vendor_message_delivered_again_is_not_a_new_sample(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site, vendor, inv = one_lighting_controller()
    s = settings(mosquitto, tmp_path)
    tele = topic(site, "light-1", "telemetry", kind="lighting")

    def doc(ts: int, volts: float) -> bytes:
        return json.dumps({"device": "lc", "time": ts, "mains_v": volts}).encode()

    async with Collector(mosquitto, [tele]) as c, running(s, inv) as agent:
        assert agent.publisher is not None
        await wait_for_async(agent.publisher.connected_event.is_set, "agent connected", within=10)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
            # what a broker redelivers after the agent's link comes back: the same messages
            for payload in [doc(1_700_000_001_000, 230.0), doc(1_700_000_002_000, 235.0)] * 2:
                await device.publish(vendor, payload, qos=1)
            await device.publish(vendor, doc(1_700_000_003_000, 240.0), qos=1)
            msgs = await c.wait(
                lambda: (
                    [m for m in c.telemetry(tele) if m.ts == 1_700_000_003_000]
                    and c.telemetry(tele)
                ),
                10,
                "the third vendor message",
            )
        assert [m.ts for m in msgs] == [1_700_000_001_000, 1_700_000_002_000, 1_700_000_003_000]
        assert [m.seq for m in msgs] == list(range(msgs[0].seq, msgs[0].seq + 3))
        assert agent.stats()["equipment"]["light-1"]["duplicates"] == 2


async def test_an_alarm_change_is_published_without_waiting_for_the_commit_interval(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site, vendor, inv = one_lighting_controller()
    s = settings(mosquitto, tmp_path, edge_commit_interval_s=60.0)
    tele = topic(site, "light-1", "telemetry", kind="lighting")

    def doc(ts: int, volts: float, tripped: bool) -> bytes:
        circuit = {"n": 1, "on": True, "tripped": tripped}
        return json.dumps({"time": ts, "mains_v": volts, "circuits": [circuit]}).encode()

    async with Collector(mosquitto, [tele]) as c, running(s, inv) as agent:
        assert agent.publisher is not None
        await wait_for_async(agent.publisher.connected_event.is_set, "agent connected", within=10)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
            await device.publish(vendor, doc(1_700_000_001_000, 230.0, False), qos=1)
            # the first sample sets every alarm and state point: it goes out at once
            await c.wait(lambda: c.telemetry(tele), 10, "the first sample")
            await device.publish(vendor, doc(1_700_000_002_000, 236.0, False), qos=1)
            await device.publish(vendor, doc(1_700_000_003_000, 236.5, True), qos=1)
            msgs = await c.wait(
                lambda: (
                    [m for m in c.telemetry(tele) if m.points.get("circuit_1_tripped")]
                    and c.telemetry(tele)
                ),
                10,
                "the trip, well before the 60 s commit interval",
            )
        # the measurement-only sample queued before the trip goes out with it, in order
        assert [m.ts for m in msgs] == [1_700_000_001_000, 1_700_000_002_000, 1_700_000_003_000]
