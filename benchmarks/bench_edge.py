"""Edge agent on one core against the 1,000-device simulator, and a bare pymodbus loop.

Everything runs for real on this machine, in a temporary directory:

* a generated site of 1,000 devices (10 buildings x 25 of each kind: 750 Modbus devices
  behind 10 gateway ports, 250 lighting controllers publishing JSON on MQTT every second),
  served by one `plantroom sim` process, with mosquitto as the broker; both pinned to core 0;
* **agent**: ONE edge agent process pinned to core 1, built from its normal settings
  (`PLANTROOM_*` environment) with every poll class at 1 s (`edge_normal_every` =
  `edge_slow_every` = 1), run by the benchmark's child entry point
  (`python -m benchmarks.edge_children agent <config>`), which reports the agent's own CPU time,
  Modbus request count, `poll_stats()` counters, published messages and peak RSS at the start
  and end of a steady window after a warm-up. After the window py-spy (when installed;
  otherwise cProfile inside the child) samples where the agent's CPU goes.
* **bare loop**: then, in the same run, a child on the same core reads the same devices with
  the same read plan (`edge.planner.plan_reads` over every point of each profile) over the
  same connections (one `AsyncModbusTcpClient` per gateway port, requests in sequence), once
  a second, for the same duration: its CPU per request is the floor the agent is compared to.
  Then the same loop once more with each device read at its own random moment of the second
  (as the agent spreads its polls), to show what the spreading alone costs; and that spread
  loop a third time, decoding each poll with the agent's compiled decoders and sending it as
  one sample through the agent's own `SampleBuffer` and `Publisher` (to the same broker):
  what the agent's store-and-forward costs with nothing else of the agent around it.

The targets (issue 4): 1,000 devices at 1 s with at least 99.9 % of polls on schedule, CPU per
Modbus request at most 1.25 x the bare loop's, RSS at most 150 MB. The machine's other work
during the windows is measured from /proc/stat and called out when it was not quiet.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from benchmarks.edge_children import POLL_INTERVAL_S, PROFILE_S, ChildConfig
from benchmarks.edge_params import (
    AGENT_CORE,
    BARE_WARMUP_S,
    BUILDINGS,
    MEASURE_S,
    PER_KIND,
    PROFILE_RATE,
    SERVICE_CORE,
    WARMUP_S,
)
from benchmarks.edge_profile import CATEGORIES, OTHER, read_cprofile
from benchmarks.edge_report import Result, report
from benchmarks.edge_stack import child, measure_window, simulator
from benchmarks.measure import port_block
from benchmarks.procstat import memory_kib, pin, pinning, py_spy
from benchmarks.profiles import read_py_spy, start_py_spy

TITLE = "Edge agent: 1,000 devices at 1 s on one core"


def run_all(work: Path) -> Result:
    from plantroom.inventory import Mqtt, load_inventory
    from plantroom.ports import free_port
    from simulators.generate import generate_site, generated_ports
    from stack.services import Mosquitto

    result = Result()
    mosquitto = Mosquitto(work / "mosquitto")
    with mosquitto:
        pin(mosquitto.pid or 0, SERVICE_CORE)
        base = port_block(generated_ports(BUILDINGS, PER_KIND))
        path = work / "site.yaml"
        path.write_text(generate_site(BUILDINGS, PER_KIND, base, site="bench"))
        inventory = load_inventory(path)
        everything = [e for _, e in inventory.equipment()]
        result.equipment = len(everything)
        result.lighting = sum(isinstance(e.connection, Mqtt) for e in everything)
        result.modbus_devices = result.equipment - result.lighting
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")},
            "PLANTROOM_MQTT_HOST": mosquitto.host,
            "PLANTROOM_MQTT_PORT": str(mosquitto.port),
            "PLANTROOM_INVENTORY": str(path),
            "PLANTROOM_EDGE_AGENT_ID": "bench-edge",
            "PLANTROOM_EDGE_BUFFER_PATH": str(work / "edge" / "buffer.sqlite"),
            "PLANTROOM_EDGE_POLL_INTERVAL_S": str(POLL_INTERVAL_S),
            "PLANTROOM_EDGE_NORMAL_EVERY": "1",
            "PLANTROOM_EDGE_SLOW_EVERY": "1",
            # the lighting controllers publish every second; stale after ten missed messages
            # (the default, twice the slow interval, would be 2 s with every class at 1 s)
            "PLANTROOM_EDGE_MQTT_STALE_AFTER_S": "10",
        }
        with simulator(path, env, work / "sim.log", free_port()) as sim_pid:
            pids = {"simulator": sim_pid, "mosquitto": mosquitto.pid or 0}
            run_agent(work, env, pids, result)
            run_bare(work, env, pids, result, jitter=False)
            run_bare(work, env, pids, result, jitter=True)
            run_bare(work, env, pids, result, jitter=True, forward=True)
    return result


def run_agent(work: Path, env: dict[str, str], pids: Mapping[str, int], result: Result) -> None:
    spy = py_spy()
    config = ChildConfig(
        core=AGENT_CORE,
        warmup_s=WARMUP_S,
        measure_s=MEASURE_S,
        profile="none" if spy else "cprofile",
        max_s=WARMUP_S + MEASURE_S + PROFILE_S + 60,
        profile_out=str(work / "agent.pstats"),
    )
    with child("agent", config, env, work / "agent.log") as agent:
        started = agent.expect("started", 60)
        result.hubs = int(started["hubs"])
        result.agent = measure_window(agent, WARMUP_S + 30, pids)
        if spy:
            raw = work / "agent.py-spy"
            proc = start_py_spy(
                agent.pid,
                raw,
                work / "py-spy.log",
                seconds=PROFILE_S,
                rate=PROFILE_RATE,
                core=SERVICE_CORE,
            )
            if proc is not None:
                try:
                    proc.wait(timeout=PROFILE_S + 30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                result.profile = read_py_spy(raw, CATEGORIES, OTHER, rate=PROFILE_RATE)
                if result.profile is None:
                    tail = (work / "py-spy.log").read_text(errors="replace").strip()[-300:]
                    result.profile_note = f"py-spy gave no profile ({tail or 'no output'})"
        else:
            agent.expect("profiled", PROFILE_S + 30)
            result.profile = read_cprofile(work / "agent.pstats")
            result.profile_note = "py-spy is not installed; cProfile inside the agent instead"
        result.agent_hwm_kib = memory_kib(agent.pid).get("VmHWM", 0)


def run_bare(
    work: Path,
    env: dict[str, str],
    pids: Mapping[str, int],
    result: Result,
    *,
    jitter: bool,
    forward: bool = False,
) -> None:
    config = ChildConfig(
        core=AGENT_CORE,
        warmup_s=BARE_WARMUP_S,
        measure_s=MEASURE_S,
        profile="none",
        max_s=BARE_WARMUP_S + MEASURE_S + 30,
        jitter=jitter,
        forward=forward,
    )
    name = "bare-forward" if forward else "bare-jitter" if jitter else "bare"
    with child("bare", config, env, work / f"{name}.log") as bare:
        started = bare.expect("started", 60)
        result.bare_connections = int(started["connections"])
        window = measure_window(bare, BARE_WARMUP_S + 30, pids)
    if forward:
        result.bare_forward = window
    elif jitter:
        result.bare_jitter = window
    else:
        result.bare = window


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-edge-") as tmp:
        own = os.sched_getaffinity(0) if pinning() else None
        pin(0, SERVICE_CORE)
        try:
            result = run_all(Path(tmp))
        finally:
            if own is not None:
                os.sched_setaffinity(0, own)
    return report(result)
