"""The child processes of the edge benchmark, each on the measured core: the agent, and the
bare pymodbus loops it is compared to.

`python -m benchmarks.edge_children {agent|bare} '<ChildConfig JSON>'`. A child reads its
settings from the environment (`PLANTROOM_*`), as the agent does, and speaks JSON lines on
stdout: `started`, then `window_start` and `window_end` with a snapshot of its own CPU time,
request count and memory (the agent's also with its poll counters and published messages),
after which the parent stops it.

* **agent**: one `EdgeAgent` built from its settings; after the window it profiles itself
  with cProfile when asked to (when py-spy is not installed).
* **bare**: the same devices with the same read plan (`edge.planner.plan_reads` over every
  point of each profile) over the same connections (one `AsyncModbusTcpClient` per gateway
  port, requests in sequence), once a second: all devices back to back, or (`jitter`) each
  at its own random moment of the second, as the agent spreads its polls, or (`forward`)
  spread and also decoded with the agent's compiled decoders and sent, one sample per poll,
  through the agent's own `SampleBuffer` and `Publisher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import logging
import random
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.procstat import memory_kib, own_cpu, pin

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from edge.agent import EdgeAgent
    from edge.decode import Value
    from edge.decode_blocks import BlockDecoder
    from edge.health import DevicePollStats
    from plantroom.settings import EdgeSettings

    Forward = Callable[["_Device", dict[str, Value]], None]

POLL_INTERVAL_S = 1.0
PROFILE_S = 8.0  # how long the agent profiles itself with cProfile after the window


@dataclass(frozen=True)
class ChildConfig:
    """What the parent tells a child (JSON in argv); settings come from the environment."""

    core: int
    warmup_s: float
    measure_s: float
    profile: str  # "cprofile" (profile in the child after the window) or "none"
    max_s: float  # the child stops by itself after this long, whatever happens
    profile_out: str = ""
    jitter: bool = False  # bare loop: each device at its own time in the cycle, as the agent
    forward: bool = False  # bare loop: decode each poll and send it through buffer and publisher


def _emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def _agent_snapshot(agent: EdgeAgent) -> dict[str, Any]:
    poll_stats: Mapping[str, DevicePollStats] = agent.poll_stats()
    mem = memory_kib()
    pub = agent.publisher_stats()
    return {
        "t": time.monotonic(),
        "cpu": own_cpu(),
        "requests": sum(h.requests for h in agent.hubs.values()),
        "published": pub.published,
        "vendor_messages": pub.vendor_messages,
        "depth": agent.buffer_stats().depth,
        "rss_kib": mem.get("VmRSS", 0),
        "hwm_kib": mem.get("VmHWM", 0),
        "poll_stats": {eq: s.figures() for eq, s in poll_stats.items()},
    }


async def _agent_child(config: ChildConfig) -> None:
    from edge.agent import EdgeAgent
    from plantroom.settings import EdgeSettings, load_settings

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    deadline = time.monotonic() + config.max_s

    async def pause(seconds: float) -> bool:
        """Sleep; True when told to stop (or past the child's own deadline)."""
        left = min(seconds, deadline - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(left, 0.0))
        return stop.is_set() or time.monotonic() >= deadline

    settings = load_settings(EdgeSettings)
    async with EdgeAgent(settings) as agent:
        _emit("started", equipment=len(agent.stats()["equipment"]), hubs=len(agent.hubs))
        if await pause(config.warmup_s):
            return
        _emit("window_start", **_agent_snapshot(agent))
        if await pause(config.measure_s):
            return
        _emit("window_end", **_agent_snapshot(agent))
        if config.profile == "cprofile":
            profiler = cProfile.Profile()
            profiler.enable()
            await pause(PROFILE_S)
            profiler.disable()
            profiler.dump_stats(config.profile_out)
            _emit("profiled")
        await pause(config.max_s)
        _emit("stopping", published=agent.publisher_stats().published)
    _emit("stopped")


@dataclass(frozen=True)
class _Device:
    key: str  # the equipment id
    topic: str  # its telemetry topic
    unit: int
    blocks: tuple[tuple[int, int, int], ...]  # (function code, address, count)
    decoders: tuple[BlockDecoder, ...]  # one per block, the agent's compiled decoders


_FUNCTION = {"holding": 3, "input": 4, "coil": 1, "discrete": 2}


def bare_plan(inventory_path: Path) -> dict[tuple[str, int], list[_Device]]:
    """Every Modbus device's reads (every point, as the agent plans them), by connection."""
    from edge.decode_blocks import BlockDecoder
    from edge.planner import plan_reads
    from plantroom.inventory import ModbusTcp, load_inventory
    from plantroom.profiles import ModbusProfile, ProfileLibrary

    inventory = load_inventory(inventory_path)
    by_port: dict[tuple[str, int], list[_Device]] = {}
    for a in ProfileLibrary(None).assign(inventory, [], inventory_path):
        conn = a.equipment.connection
        if not isinstance(conn, ModbusTcp):
            continue
        assert isinstance(a.profile, ModbusProfile)
        reads = plan_reads(a.profile.points, a.profile.modbus)
        blocks = tuple((_FUNCTION[b.table.value], b.address, b.count) for b in reads)
        decoders = tuple(BlockDecoder(b.points, b.address, b.table.is_bits) for b in reads)
        by_port.setdefault((conn.host, conn.port), []).append(
            _Device(
                a.equipment.id,
                inventory.topic(a.building, a.equipment).telemetry(),
                conn.unit,
                blocks,
                decoders,
            )
        )
    return by_port


@dataclass
class _BareTally:
    requests: int = 0
    failed: int = 0
    cycles: int = 0
    late_cycles: int = 0


async def _bare_connection(
    host: str,
    port: int,
    devices: Sequence[_Device],
    tally: _BareTally,
    stop: asyncio.Event,
    request_timeout: float,
    jitter: bool,
    forward: Forward | None = None,
) -> None:
    """Read `devices` once a second over one connection, requests in sequence: all of them
    back to back at one moment of the cycle, or (`jitter`) each device at its own random
    moment, as the agent schedules them. `forward`: decode each device's reads with the
    agent's decoders and hand the values on (to the agent's buffer and publisher)."""
    import heapq

    from pymodbus.client import AsyncModbusTcpClient

    async with AsyncModbusTcpClient(host, port=port, timeout=request_timeout, retries=0) as client:
        client.set_max_no_responses(1_000_000)
        calls = {
            1: client.read_coils,
            2: client.read_discrete_inputs,
            3: client.read_holding_registers,
            4: client.read_input_registers,
        }

        async def read(d: _Device) -> None:
            values: dict[str, Value] = {}
            for (fc, address, count), decoder in zip(d.blocks, d.decoders, strict=True):
                tally.requests += 1
                try:
                    rr = await calls[fc](address, count=count, device_id=d.unit)
                    if rr.isError():
                        tally.failed += 1
                    elif forward is not None:
                        data = rr.bits[:count] if fc <= 2 else rr.registers
                        values.update(zip(decoder.names, decoder.decode(data), strict=True))
                except Exception:  # a timeout or a lost connection is a failed request
                    tally.failed += 1
            if forward is not None and values:
                forward(d, values)

        loop = asyncio.get_running_loop()
        start = loop.time() + random.uniform(0, POLL_INTERVAL_S)
        if jitter:
            due = [(start + random.uniform(0, POLL_INTERVAL_S), i) for i in range(len(devices))]
            heapq.heapify(due)
            while not stop.is_set():
                when, i = due[0]
                late = loop.time() - when
                if late < 0:
                    await asyncio.sleep(-late)
                    continue
                heapq.heapreplace(due, (when + POLL_INTERVAL_S, i))
                await read(devices[i])
                tally.cycles += 1
                if late > POLL_INTERVAL_S * 0.1:
                    tally.late_cycles += 1
            return
        cycle = start
        while not stop.is_set():
            await asyncio.sleep(max(0.0, cycle - loop.time()))
            for d in devices:
                await read(d)
            tally.cycles += 1
            cycle += POLL_INTERVAL_S
            if loop.time() > cycle:
                tally.late_cycles += 1
                cycle = loop.time()


async def _bare_child(config: ChildConfig) -> None:
    from plantroom.settings import EdgeSettings, load_settings

    settings = load_settings(EdgeSettings)
    plan = bare_plan(settings.inventory)
    tally = _BareTally()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        forward, published = None, lambda: 0
        if config.forward:
            forward, published = await stack.enter_async_context(_forwarding(settings))
        await _bare_run(config, settings, plan, tally, stop, forward, published)


@contextlib.asynccontextmanager
async def _forwarding(
    settings: EdgeSettings,
) -> AsyncIterator[tuple[Forward, Callable[[], int]]]:
    """The agent's store-and-forward on its own: its SampleBuffer (committed on its interval)
    and its Publisher (QoS 1) to the broker, one sample per poll as the agent buffers it."""
    from edge.buffer import SampleBuffer
    from edge.publisher import Publisher

    buffer = SampleBuffer(
        settings.edge_buffer_path.with_name("forward.sqlite"),
        settings.edge_buffer_max_samples,
        commit_interval_s=settings.edge_commit_interval_s,
        synchronous=settings.edge_buffer_synchronous,
    )
    buffer.open()
    publisher = Publisher(
        settings,
        buffer,
        site="bench",
        agent_id=f"{settings.edge_agent_id}-forward",
        window=settings.edge_publish_window,
    )
    buffer.on_commit = publisher.notify

    def forward(d: _Device, values: dict[str, Value]) -> None:
        buffer.append(d.key, d.topic, int(time.time() * 1000), values)

    async def commits() -> None:
        while True:
            await asyncio.sleep(settings.edge_commit_interval_s or 1.0)
            buffer.commit()

    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(publisher.run(), name="forward:publisher")
        committing = tg.create_task(commits(), name="forward:commits")
        await asyncio.wait_for(publisher.connected_event.wait(), 30)
        try:
            yield forward, lambda: publisher.stats.published
        finally:
            committing.cancel()
            publisher.request_stop(0.0)
            await running
            buffer.close()


async def _bare_run(
    config: ChildConfig,
    settings: EdgeSettings,
    plan: Mapping[tuple[str, int], Sequence[_Device]],
    tally: _BareTally,
    stop: asyncio.Event,
    forward: Forward | None,
    published: Callable[[], int],
) -> None:
    def snapshot() -> dict[str, Any]:
        mem = memory_kib()
        return {
            "t": time.monotonic(),
            "cpu": own_cpu(),
            "requests": tally.requests,
            "published": published(),
            "failed": tally.failed,
            "cycles": tally.cycles,
            "late_cycles": tally.late_cycles,
            "rss_kib": mem.get("VmRSS", 0),
            "hwm_kib": mem.get("VmHWM", 0),
        }

    async def timeline() -> None:
        deadline = time.monotonic() + config.max_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), config.warmup_s)
        if not stop.is_set():
            _emit("window_start", **snapshot())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), config.measure_s)
        if not stop.is_set():
            _emit("window_end", **snapshot())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, deadline - time.monotonic()))
        stop.set()

    _emit("started", connections=len(plan), devices=sum(len(d) for d in plan.values()))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(timeline(), name="bare:timeline")
        for (host, port), devices in plan.items():
            tg.create_task(
                _bare_connection(
                    host,
                    port,
                    devices,
                    tally,
                    stop,
                    settings.edge_timeout_s,
                    config.jitter,
                    forward,
                ),
                name=f"bare:{port}",
            )
    _emit("stopped")


def child_main(argv: Sequence[str]) -> int:
    """`python -m benchmarks.edge_children {agent|bare} '<ChildConfig JSON>'`."""
    if len(argv) != 2 or argv[0] not in ("agent", "bare"):
        sys.stderr.write("usage: python -m benchmarks.edge_children {agent|bare} '<config json>'\n")
        return 2
    config = ChildConfig(**json.loads(argv[1]))
    pin(0, config.core)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(_agent_child(config) if argv[0] == "agent" else _bare_child(config))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
