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

import contextlib
import json
import os
import pstats
import random
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.edge_children import POLL_INTERVAL_S, PROFILE_S, ChildConfig
from benchmarks.measure import wait_for_simulator
from benchmarks.procstat import (
    cpu_seconds,
    machine_busy_seconds,
    memory_kib,
    own_cpu,
    pin,
    pinning,
    py_spy,
)
from benchmarks.profiles import Profile, categorise, read_py_spy, start_py_spy, summarise
from stack.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Edge agent: 1,000 devices at 1 s on one core"

BUILDINGS, PER_KIND = 10, 25
WARMUP_S = float(os.environ.get("PLANTROOM_BENCH_EDGE_WARMUP", "8"))
MEASURE_S = float(os.environ.get("PLANTROOM_BENCH_EDGE_SECONDS", "60"))
BARE_WARMUP_S = 3.0
PROFILE_RATE = 100
HOST = "127.0.0.1"
AGENT_CORE, SERVICE_CORE = 1, 0
QUIET_CORES = 0.25  # other work above this during a window is called out in the report

TARGET_ON_SCHEDULE = 0.999
TARGET_OVERHEAD = 1.25
TARGET_RSS_MB = 150.0

# counters `EdgeAgent.poll_stats()` keeps per equipment (cumulative)
COUNTERS = (
    "polls",
    "on_schedule",
    "late",
    "skipped",
    "timeouts",
    "exceptions",
    "errors",
    "reconnects",
)


# -- the parent: services, children, sampling ------------------------------------------


class Child:
    """A child process speaking JSON lines on stdout; always ended on exit."""

    def __init__(self, mode: str, config: ChildConfig, env: dict[str, str], log: Path) -> None:
        self.mode = mode
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.edge_children", mode, json.dumps(vars(config))],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self._buf = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def next_event(self, timeout: float) -> dict[str, Any]:
        """The next JSON line; RuntimeError when the child exits or is silent for `timeout`."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0.0))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                tail = self.log.read_text(errors="replace")[-3000:]
                why = "exited" if ready else f"said nothing for {timeout:.0f} s"
                raise RuntimeError(f"the {self.mode} child {why}:\n{tail}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        event: dict[str, Any] = json.loads(line)
        return event

    def expect(self, name: str, timeout: float) -> dict[str, Any]:
        event = self.next_event(timeout)
        if event.get("event") != name:
            raise RuntimeError(f"the {self.mode} child said {event!r}, expected {name!r}")
        return event

    def stop(self, grace: float = 15.0) -> None:
        if self.proc.poll() is None:
            stop_process(self.proc, grace)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def child(mode: str, config: ChildConfig, env: dict[str, str], log: Path) -> Iterator[Child]:
    c = Child(mode, config, env, log)
    try:
        yield c
    finally:
        c.stop()


@dataclass
class Window:
    """A child's steady window with the machine's and the services' CPU over it."""

    start: dict[str, Any]
    end: dict[str, Any]
    busy: float  # CPU-seconds the whole machine was busy during the window
    services: dict[str, float]  # CPU-seconds of the simulator, mosquitto, this process

    @property
    def seconds(self) -> float:
        return float(self.end["t"] - self.start["t"])

    def delta(self, key: str) -> float:
        return float(self.end[key] - self.start[key])

    @property
    def other_cores(self) -> float:
        ours = self.delta("cpu") + sum(self.services.values())
        return max(0.0, self.busy - ours) / self.seconds


def measure_window(c: Child, timeout: float, pids: Mapping[str, int]) -> Window:
    start = c.expect("window_start", timeout)
    busy0 = machine_busy_seconds()
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    self0 = own_cpu()
    end = c.expect("window_end", MEASURE_S + 30)
    busy = machine_busy_seconds() - busy0
    services = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    services["benchmark driver"] = own_cpu() - self0
    return Window(start, end, busy, services)


# -- where the agent's CPU goes ----------------------------------------------------------

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("decode registers", ("edge/decode.py", "edge/decode_blocks.py")),
    ("report-by-exception, change tracking", ("ReportFilter.", "ChangeTracker.")),
    ("buffer append (SQLite insert, JSON)", ("SampleBuffer.append (",)),
    ("buffer commit", ("SampleBuffer.commit (",)),
    (
        "publish: read the buffer, ack, delete",
        (
            "SampleBuffer.pending (",
            "SampleBuffer.ack_through (",
            "Publisher._release_acked (",
            "Publisher._fill (",
        ),
    ),
    ("vendor messages (lighting JSON)", ("MqttDevices.", "VendorEquipment.on_message (")),
    ("MQTT client (the publisher's connection)", ("plantroom/mqtt", "Publisher.")),
    ("Modbus requests (pymodbus)", ("pymodbus/", "ModbusHub.")),
    ("poll loop, scheduling, statistics", ("EdgeAgent.", "ModbusDevice.", "edge/")),
)
OTHER = "asyncio event loop (selector, callbacks, tasks) and the rest"


def read_cprofile(path: Path) -> Profile | None:
    """cProfile's own time per function, each function put in the category of its callers."""
    try:
        stats = pstats.Stats(str(path))
    except (OSError, TypeError, EOFError):
        return None
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    names = {k: f"{k[2]} ({k[0]}:{k[1]})" for k in raw}

    def label(k: Any) -> str:
        file, _, func = k
        return f"{func} ({file}:0)"

    total = 0.0
    by_category: dict[str, float] = {}
    by_function: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _ct, callers) in raw.items():
        if key[2] in ("select", "poll", "<method 'poll' of 'select.epoll' objects>"):
            continue
        total += tottime
        frames = [label(key)] + [label(c) for c in callers]
        # one level of callers, with qualified names where cProfile has them
        category = categorise(frames + [names.get(c, "") for c in callers], CATEGORIES, OTHER)
        by_category[category] = by_category.get(category, 0.0) + tottime
        short = f"`{key[2]}` ({'/'.join(str(key[0]).split('/')[-2:])})"
        by_function[short] = by_function.get(short, 0.0) + tottime
    if total <= 0:
        return None
    return summarise(
        total, by_category, by_function, CATEGORIES, OTHER, "cProfile (own time, by direct caller)"
    )


# -- the run ------------------------------------------------------------------------------


@dataclass
class Result:
    equipment: int = 0
    modbus_devices: int = 0
    lighting: int = 0
    hubs: int = 0
    agent: Window | None = None
    bare: Window | None = None
    bare_jitter: Window | None = None
    bare_forward: Window | None = None
    bare_connections: int = 0
    profile: Profile | None = None
    profile_note: str = ""
    agent_hwm_kib: int = 0
    notes: list[str] = field(default_factory=list)


def _port_block(count: int) -> int:
    from plantroom.ports import port_is_free

    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 60000 - count)
        if all(port_is_free(HOST, base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


@contextlib.contextmanager
def simulator(path: Path, env: dict[str, str], log: Path, control: int) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stack", "sim", "-i", str(path)],
            cwd=ROOT,
            env={**env, "PLANTROOM_SIM_CONTROL_PORT": str(control)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        pin(proc.pid, SERVICE_CORE)
        wait_for_simulator(f"http://{HOST}:{control}", proc, log)
        yield proc.pid
    finally:
        stop_process(proc, 20)


def run_all(work: Path) -> Result:
    from plantroom.inventory import Mqtt, load_inventory
    from plantroom.ports import free_port
    from simulators.generate import generate_site, generated_ports
    from stack.services import Mosquitto

    result = Result()
    mosquitto = Mosquitto(work / "mosquitto")
    mosquitto.start()
    try:
        pin(mosquitto.pid or 0, SERVICE_CORE)
        base = _port_block(generated_ports(BUILDINGS, PER_KIND))
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
    finally:
        mosquitto.stop()
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


# -- the report ----------------------------------------------------------------------------


def _sum_stats(w: Window) -> dict[str, float]:
    """Window totals of the agent's per-equipment poll counters."""
    start: Mapping[str, Mapping[str, Any]] = w.start["poll_stats"]
    end: Mapping[str, Mapping[str, Any]] = w.end["poll_stats"]
    totals = dict.fromkeys(COUNTERS, 0.0)
    for eq, stats in end.items():
        before = start.get(eq, {})
        for name in COUNTERS:
            if isinstance(stats.get(name), int | float):
                totals[name] += float(stats[name]) - float(before.get(name, 0))
    return totals


def _latency(w: Window, marker: str) -> list[float]:
    """Every equipment's latency figure whose name contains `marker` (cumulative, at the end)."""
    found: list[float] = []
    for stats in w.end["poll_stats"].values():
        for key, value in stats.items():
            if marker in key and "latency" in key and isinstance(value, int | float):
                found.append(float(value))
    return found


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _per_request_us(w: Window) -> float:
    requests = w.delta("requests")
    return 1e6 * w.delta("cpu") / requests if requests else float("nan")


def _capacity(w: Window, devices: int) -> str:
    cpu = w.delta("cpu")
    return f"{devices * w.seconds / cpu:,.0f}" if cpu else "—"


def _floor_line(forward_us: float, bare_us: float, agent_us: float, per_s: float) -> str:
    """What decoding and storing-and-forwarding every poll cost the spread loop, against the
    target: the least an agent that keeps no reading back could cost."""
    floor = forward_us / bare_us
    line = (
        f"* **The floor under the target:** decoding each poll and sending it through the "
        f"agent's own on-disk queue and QoS 1 publisher ({per_s:,.0f} samples per s) brings "
        f"the spread loop to {forward_us:.0f} µs per request, {floor:.2f} x the back-to-back "
        f"loop, before any scheduling state, report-by-exception, status, statistics or vendor "
        f"message of the agent's. "
    )
    if floor > TARGET_OVERHEAD:
        line += (
            f"So the {TARGET_OVERHEAD:g} x target cannot be met while every sample goes "
            f"through this queue and publisher, whatever the rest of the agent costs; "
        )
    else:
        line += f"That leaves {TARGET_OVERHEAD * bare_us - forward_us:.0f} µs for the rest; "
    line += (
        f"the agent spends {agent_us - forward_us:.0f} µs per request beyond this floor "
        f"({agent_us / forward_us:.2f} x it)."
    )
    return line


def report(r: Result) -> str:
    a, b, j, f = r.agent, r.bare, r.bare_jitter, r.bare_forward
    assert a is not None and b is not None and j is not None and f is not None
    polls = _sum_stats(a)
    due = polls["polls"] + polls["skipped"]
    on_schedule = polls["on_schedule"] / due if due else float("nan")
    agent_requests = a.delta("requests")
    agent_cpu = a.delta("cpu")
    agent_us, bare_us = _per_request_us(a), _per_request_us(b)
    jitter_us, forward_us = _per_request_us(j), _per_request_us(f)
    ratio = agent_us / bare_us
    rss_mb = r.agent_hwm_kib * 1024 / 1e6
    published = a.delta("published")
    vendor = a.delta("vendor_messages")
    p50, p99, worst = _latency(a, "p50"), _latency(a, "p99"), _latency(a, "max")
    sustained = on_schedule >= TARGET_ON_SCHEDULE
    out = [
        f"One `EdgeAgent` process pinned to core {AGENT_CORE}, built from its normal settings "
        f"with every poll class at {POLL_INTERVAL_S:g} s, serving a generated site of "
        f"{r.equipment:,} devices: {r.modbus_devices} Modbus TCP devices behind {r.hubs} "
        f"gateway ports (one hub each) and {r.lighting} lighting controllers on MQTT, all "
        f"served by one `plantroom sim` process; mosquitto and the simulator are pinned to "
        f"core {SERVICE_CORE}. Measured over {a.seconds:.0f} s after a {WARMUP_S:.0f} s "
        f"warm-up. Then, in the same run, a bare pymodbus loop (one `AsyncModbusTcpClient` per "
        f"port, {r.bare_connections} connections, the same read plan, requests in sequence, "
        f"every device once a second, all of them back to back) on the same core for "
        f"{b.seconds:.0f} s; the same loop with each device read at its own random moment "
        f"of the second, as the agent spreads its polls, for {j.seconds:.0f} s; and that "
        f"spread loop once more, now also decoding each poll with the agent's compiled "
        f"decoders and sending it as one sample through the agent's own store-and-forward "
        f"(its SQLite `SampleBuffer`, committed every 0.5 s, and its QoS 1 `Publisher`), "
        f"for {f.seconds:.0f} s.",
        "",
        "| measure | agent | bare pymodbus loop | bare loop, polls spread "
        "| spread loop + decode + store-and-forward |",
        "|---|---:|---:|---:|---:|",
        f"| devices x poll rate | {r.equipment:,} at {POLL_INTERVAL_S:g} s "
        f"({r.modbus_devices} Modbus + {r.lighting} MQTT) | "
        + " | ".join([f"{r.modbus_devices} at {POLL_INTERVAL_S:g} s"] * 3)
        + " |",
        f"| Modbus requests | {agent_requests / a.seconds:,.0f} per s | "
        + " | ".join(f"{w.delta('requests') / w.seconds:,.0f} per s" for w in (b, j, f))
        + " |",
        f"| polls on schedule | {100 * on_schedule:.2f} % ({polls['on_schedule']:,.0f} of "
        f"{due:,.0f}; late {polls['late']:,.0f}, skipped {polls['skipped']:,.0f}) | "
        f"late cycles {b.delta('late_cycles'):,.0f} of {b.delta('cycles'):,.0f} | "
        + " | ".join(
            f"late polls {w.delta('late_cycles'):,.0f} of {w.delta('cycles'):,.0f}" for w in (j, f)
        )
        + " |",
        f"| failed polls (timeouts / exception responses / other errors) | "
        f"{polls['timeouts']:,.0f} / {polls['exceptions']:,.0f} / {polls['errors']:,.0f}; "
        f"{polls['reconnects']:,.0f} reconnects | "
        + " | ".join(f"{w.delta('failed'):,.0f} failed requests" for w in (b, j, f))
        + " |",
        f"| CPU | {agent_cpu / a.seconds:.3f} cores | "
        + " | ".join(f"{w.delta('cpu') / w.seconds:.3f} cores" for w in (b, j, f))
        + " |",
        f"| **CPU per Modbus request** | **{agent_us:.0f} µs** | **{bare_us:.0f} µs** | "
        f"{jitter_us:.0f} µs | {forward_us:.0f} µs |",
        f"| RSS peak (VmHWM) | {rss_mb:.0f} MB | "
        + " | ".join(f"{w.end['hwm_kib'] * 1024 / 1e6:.0f} MB" for w in (b, j, f))
        + " |",
        f"| telemetry messages published (QoS 1) | {published / a.seconds:,.0f} per s | — | — | "
        f"{f.delta('published') / f.seconds:,.0f} per s |",
        f"| lighting messages taken in | {vendor / a.seconds:,.0f} per s | — | — | — |",
        f"| buffer depth at the end of the window | {a.end['depth']:,} samples | — | — | — |",
        f"| devices at {POLL_INTERVAL_S:g} s one core could carry at this CPU per device | "
        + " | ".join(_capacity(w, r.modbus_devices) for w in (a, b, j, f))
        + " |",
    ]
    if p50:
        out.append(
            f"| poll latency, median of devices' p50 / worst p99 / worst max | "
            f"{statistics.median(p50):.1f} / {max(p99):.1f} / {max(worst):.1f} ms "
            "| — | — | — |"
        )
    out += [
        "",
        f"* **{r.equipment:,} devices at {POLL_INTERVAL_S:g} s with at least "
        f"{100 * TARGET_ON_SCHEDULE:.1f} % of polls on schedule: {verdict(sustained)}** "
        f"({100 * on_schedule:.2f} %).",
        f"* **Overhead at most {TARGET_OVERHEAD:g} x the bare loop: "
        f"{verdict(ratio <= TARGET_OVERHEAD)}** ({ratio:.2f} x: {agent_us:.0f} µs against "
        f"{bare_us:.0f} µs of CPU per request). The agent's figure is everything it does per "
        f"request: decoding, report-by-exception, the SQLite buffer, publishing "
        f"{published / max(agent_requests, 1):.2f} QoS 1 messages per request and taking in the "
        f"lighting controllers' messages; the bare loop only reads. Spreading the polls over "
        f"the second as the agent does (each device woken at its own moment instead of all "
        f"read back to back) costs the bare loop itself {jitter_us / bare_us:.2f} x "
        f"({jitter_us:.0f} µs per request); the agent's {agent_us:.0f} µs are "
        f"{agent_us / jitter_us:.2f} x that.",
        _floor_line(forward_us, bare_us, agent_us, f.delta("published") / max(f.seconds, 1e-9)),
        f"* **RSS at most {TARGET_RSS_MB:.0f} MB: {verdict(rss_mb <= TARGET_RSS_MB)}** "
        f"({rss_mb:.0f} MB at its peak).",
    ]
    noisy = max(a.other_cores, b.other_cores, j.other_cores, f.other_cores)
    line = (
        f"* Other work on the machine: {a.other_cores:.2f} cores during the agent's window, "
        f"{b.other_cores:.2f}, {j.other_cores:.2f} and {f.other_cores:.2f} during the bare "
        f"loops' (simulator "
        f"{a.services['simulator'] / a.seconds:.2f} and mosquitto "
        f"{a.services['mosquitto'] / a.seconds:.2f} cores during the agent's)."
    )
    if noisy > QUIET_CORES:
        line += (
            " **The machine was not quiet**, so on-schedule figures and CPU times are worse "
            "than on an idle machine; the ratio of the two CPU costs, taken on the same core "
            "in the same run, is the steadier figure."
        )
    out.append(line)
    out += r.notes
    prof = r.profile
    if prof is not None:
        out += [
            "",
            f"Where the agent's CPU goes ({prof.how}, {prof.samples:,} "
            f"{'samples' if 'py-spy' in prof.how else 'function calls timed'} over "
            f"{PROFILE_S:.0f} s after the window):",
            "",
            "| work | share of the agent's CPU |",
            "|---|---:|",
            *(f"| {name} | {share:.0%} |" for name, share in prof.shares),
            "",
            "Functions with the most own time: "
            + ", ".join(f"{name} {share:.0%}" for name, share in prof.top)
            + ".",
        ]
    elif r.profile_note:
        out += ["", r.profile_note]
    return "\n".join(out)


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
