"""Gateway throughput: MQTT → InfluxDB, measured against influxd's own bulk-write rate.

Everything runs for real on this machine, in a temporary directory:

* **ceiling**: influxd alone. Pre-built, gzip'd batches of 5,000 pump lines (the gateway's
  batch size, and exactly the lines the gateway writes: 12 points plus `seq`, tags
  site/building/equipment) are POSTed to `/write` by a few concurrent writers for a bounded
  time.
* **gateway**: one `python -m plantroom gateway` process with its default settings, pinned to
  core 1, consuming its shared subscription on mosquitto. A load generator in a separate
  process, pinned to core 0, publishes QoS 1 telemetry (12 points per message) from
  pre-built MQTT packets with a large in-flight window, for a bounded time, staying at most
  BACKLOG messages ahead of what the gateway has taken (so the gateway always has work and the
  broker's queue stays bounded). The gateway's `/metrics` counters are sampled while it
  runs; CPU and memory come from `/proc`. When py-spy is installed, the last seconds of
  publishing are sampled with it (outside the steady-state window) to show where the
  gateway's CPU goes. Afterwards `count(seq)` in InfluxDB must equal the number of messages
  the broker acknowledged to the publisher.

Points are point values (the `seq` field every line also carries is not counted), the same
unit for the ceiling and the gateway.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.gateway_load import (
    BACKLOG,
    LOAD_CORE,
    POINTS_PER_MESSAGE,
    PUBLISHERS,
    base_ts,
    check_lines_match_gateway,
    equipment,
    line,
    line_fragments,
    probe_until,
    publisher,
    topic,
)
from benchmarks.measure import parse_metrics, servers
from benchmarks.procstat import (
    cpu_seconds,
    machine_busy_seconds,
    memory_kib,
    own_cpu,
    pinning,
)
from benchmarks.profiles import Profile, read_py_spy, start_py_spy
from plantroom.ports import free_port
from plantroom.settings import GatewaySettings
from stack.processes import stop_process
from stack.services import Influxd, Mosquitto

TITLE = "Gateway: MQTT → InfluxDB throughput"

TARGET_POINTS_S = 100_000
TARGET_SHARE = 0.45

# the gateway's defaults, which the ceiling's batches match
BATCH_LINES = int(GatewaySettings.model_fields["gateway_batch_size"].default)
IN_FLIGHT = int(GatewaySettings.model_fields["gateway_max_in_flight"].default)

CEILING_WRITERS = 3
CEILING_S = 6.0
CEILING_MAX_BATCHES = 300

PUBLISH_S = 30.0
MAX_MESSAGES = 2_000_000
DRAIN_LIMIT_S = 60.0
SAMPLE_S = 0.25
WARM_UP_S = 2.0  # left out of the steady state: connections, caches, first batches
PROFILE_S = 8  # the last seconds of publishing, sampled by py-spy when it is installed
PROFILE_RATE = 100
QUIET_CORES = 0.25  # other work above this during a run is called out in the report

GATEWAY_CORE = 1
ROOT = Path(__file__).resolve().parent.parent


# -- InfluxDB over HTTP -----------------------------------------------------------------


def influx_query(influx: Influxd, q: str, db: str | None = None) -> dict[str, Any]:
    params = {"q": q, **({"db": db} if db else {})}
    conn = http.client.HTTPConnection(influx.host, influx.port, timeout=60)
    try:
        conn.request(
            "POST",
            "/query?" + urllib.parse.urlencode(params),
            headers={"Content-Length": "0"},
        )
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(f"InfluxDB refused {q!r}: HTTP {resp.status} {body[:200]!r}")
    data: dict[str, Any] = json.loads(body)
    for result in data.get("results", []):
        if result.get("error"):
            raise RuntimeError(f"InfluxDB refused {q!r}: {result['error']}")
    return data


def count_seq(influx: Influxd, db: str) -> int:
    data = influx_query(influx, "SELECT count(seq) FROM pump", db)
    series = data["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


# -- the ceiling ------------------------------------------------------------------------


@dataclass
class Ceiling:
    points: int
    seconds: float
    batches: int
    influxd_cores: float
    writer_cores: float
    other_cores: float
    exhausted: bool

    @property
    def rate(self) -> float:
        return self.points / self.seconds


def ceiling_bodies(ts0: int) -> list[bytes]:
    """Gzip'd bodies of BATCH_LINES lines: every pump, successive seqs, like the gateway's."""
    pumps = equipment()
    prefixes = [
        f"pump,building={building},equipment={pump},site={site}" for site, building, pump in pumps
    ]
    fragments = line_fragments()
    per_body = BATCH_LINES // len(pumps)
    bodies = []
    for b in range(CEILING_MAX_BATCHES):
        lines = [
            line(prefixes[e], ts0, e, seq, fragments)
            for seq in range(b * per_body, (b + 1) * per_body)
            for e in range(len(pumps))
        ]
        bodies.append(gzip.compress("\n".join(lines).encode(), compresslevel=1, mtime=0))
    return bodies


def measure_ceiling(influx: Influxd, influxd_pid: int) -> Ceiling:
    db = "ceiling"
    influx_query(influx, f"CREATE DATABASE {db}")
    bodies = ceiling_bodies(base_ts())
    lines_per_body = (BATCH_LINES // len(equipment())) * len(equipment())
    queue = list(reversed(bodies))
    lock = threading.Lock()
    written = [0]
    errors: list[str] = []
    deadline = 0.0

    def writer() -> None:
        conn = http.client.HTTPConnection(influx.host, influx.port, timeout=60)
        path = f"/write?db={db}&precision=ms"
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
        try:
            while time.monotonic() < deadline:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                if resp.status != 204:
                    errors.append(f"HTTP {resp.status}: {text[:200]!r}")
                    return
                with lock:
                    written[0] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, name=f"ceiling-{i}") for i in range(CEILING_WRITERS)]
    cpu0, own0, all0 = cpu_seconds(influxd_pid), own_cpu(), machine_busy_seconds()
    started = time.monotonic()
    deadline = started + CEILING_S
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    cpu1, own1, all1 = cpu_seconds(influxd_pid), own_cpu(), machine_busy_seconds()
    if errors:
        raise RuntimeError(f"the ceiling writes failed: {errors[0]}")
    stored = count_seq(influx, db)
    if stored != written[0] * lines_per_body:
        raise RuntimeError(f"ceiling: {stored} lines stored, {written[0] * lines_per_body} sent")
    influx_query(influx, f"DROP DATABASE {db}")
    return Ceiling(
        points=written[0] * lines_per_body * POINTS_PER_MESSAGE,
        seconds=seconds,
        batches=written[0],
        influxd_cores=(cpu1 - cpu0) / seconds,
        writer_cores=(own1 - own0) / seconds,
        other_cores=max(0.0, (all1 - all0 - (cpu1 - cpu0) - (own1 - own0)) / seconds),
        exhausted=not queue,
    )


# -- the gateway process ----------------------------------------------------------------


def metrics(port: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    return parse_metrics(text)


def try_metrics(port: int) -> dict[str, float] | None:
    try:
        return metrics(port)
    except OSError:
        return None


@contextlib.contextmanager
def gateway_process(
    mosquitto: Mosquitto, influx: Influxd, workdir: Path, metrics_port: int
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}
    env.update(
        {
            "PLANTROOM_MQTT_HOST": mosquitto.host,
            "PLANTROOM_MQTT_PORT": str(mosquitto.port),
            "PLANTROOM_INFLUX_URL": influx.url,
            "PLANTROOM_INFLUX_DATABASE": "plantroom",
            "PLANTROOM_GATEWAY_ID": "bench",
            "PLANTROOM_GATEWAY_BUFFER_DIR": str(workdir / "gateway"),
            "PLANTROOM_GATEWAY_METRICS_PORT": str(metrics_port),
            "PYTHONPATH": str(ROOT),
        }
    )
    cmd = [sys.executable, "-m", "stack", "gateway", "--log-level", "WARNING"]
    taskset = shutil.which("taskset")
    if pinning() and taskset:
        cmd = [taskset, "-c", str(GATEWAY_CORE), *cmd]
    log = open(workdir / "gateway.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        if pinning() and not taskset:
            os.sched_setaffinity(proc.pid, {GATEWAY_CORE})
        yield proc
    finally:
        if proc.poll() is None:
            stop_process(proc, 20)
        log.close()


# -- where the gateway's CPU goes (py-spy) -------------------------------------------------

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("validate the payload (pydantic)", ("parse_telemetry (",)),
    ("encode the line", ("TelemetryEncoder.",)),
    ("acknowledge (PUBACK)", ("Subscriber.ack (", "Gateway._complete (")),
    ("write batches (gzip, httpx)", ("InfluxWriter.", "Gateway._sink (", "Gateway._write (")),
    ("the rest of message handling (batching, counters)", ("Gateway._on_message (",)),
    # the socket read and the framing, everything under the transport's read callback that
    # none of the categories above claimed
    ("MQTT read and framing", ("Subscriber._received (", "_read_ready (")),
)
OTHER = "event loop, health line, /metrics, the rest"


# -- the gateway run --------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    points_out: float
    messages_in: float
    acked: float
    batches: float
    latency_ms: float
    cpu: dict[str, float]
    rss_kib: int


@dataclass
class GatewayRun:
    samples: list[Sample] = field(default_factory=list)
    published: int = 0
    publish_seconds: float = 0.0
    publisher_cpu: float = 0.0
    stored_messages: int = 0
    peak_rss_kib: int = 0
    dead_letters: float = 0.0
    buffered: float = 0.0
    drained: bool = False
    profile_from: float | None = None
    profile: Profile | None = None
    profile_note: str = ""


def run_gateway(mosquitto: Mosquitto, influx: Influxd, workdir: Path) -> GatewayRun:
    ts0 = base_ts()
    metrics_port = free_port()
    result = GatewayRun()
    pumps = [(e, topic(*where)) for e, where in enumerate(equipment())]
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    taken = ctx.Value("q", 0, lock=False)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=publisher,
            args=(
                i,
                mosquitto.host,
                mosquitto.port,
                pumps[i::PUBLISHERS],
                ts0,
                PUBLISH_S,
                MAX_MESSAGES // PUBLISHERS,
                go,
                taken,
                results,
            ),
            name=f"bench-publisher-{i}",
        )
        for i in range(PUBLISHERS)
    ]
    profile_out, profile_log = workdir / "profile.raw", workdir / "py-spy.log"
    profiler: subprocess.Popen[bytes] | None = None
    profile_at = PUBLISH_S - PROFILE_S - 0.5
    with gateway_process(mosquitto, influx, workdir, metrics_port) as gw:
        deadline = time.monotonic() + 30
        while try_metrics(metrics_port) is None:
            if gw.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start; see {workdir / 'gateway.log'}")
            time.sleep(0.05)
        probe_until(
            mosquitto.host,
            mosquitto.port,
            ts0,
            lambda: metrics(metrics_port).get("points_out", 0) >= 1,
            30,
        )
        for p in procs:
            p.start()
        pids: dict[str, int] = {
            "gateway": gw.pid,
            "mosquitto": mosquitto.pid or 0,
            "influxd": influx.pid or 0,
        }
        base = metrics(metrics_port)
        time.sleep(1.0)  # the publishers connect and build their data before `go`
        go.set()
        started = time.monotonic()
        finished: list[dict[str, Any]] = []
        expected: int | None = None
        limit = started + PUBLISH_S + DRAIN_LIMIT_S
        try:
            while time.monotonic() < limit:
                m = metrics(metrics_port)
                taken.value = int(m["messages_in"] - base["messages_in"])
                cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
                cpu["machine"] = machine_busy_seconds()
                mem = memory_kib(gw.pid)
                result.peak_rss_kib = max(result.peak_rss_kib, mem.get("VmHWM", 0))
                now = time.monotonic() - started
                result.samples.append(
                    Sample(
                        t=now,
                        points_out=m["points_out"] - base["points_out"],
                        messages_in=m["messages_in"] - base["messages_in"],
                        acked=m["acked"] - base["acked"],
                        batches=m["batches"] - base["batches"],
                        latency_ms=m["batch_latency_ms"],
                        cpu=cpu,
                        rss_kib=mem.get("VmRSS", 0),
                    )
                )
                if profiler is None and result.profile_from is None and now >= profile_at:
                    result.profile_from = now
                    profiler = start_py_spy(
                        gw.pid,
                        profile_out,
                        profile_log,
                        seconds=PROFILE_S,
                        rate=PROFILE_RATE,
                        core=LOAD_CORE,
                    )
                while len(finished) < len(procs) and not results.empty():
                    finished.append(results.get())
                if len(finished) == len(procs) and expected is None:
                    expected = sum(r["acked"] for r in finished) * POINTS_PER_MESSAGE
                if expected is not None and result.samples[-1].points_out >= expected:
                    result.drained = True
                    break
                if gw.poll() is not None:
                    raise RuntimeError(f"the gateway exited; see {workdir / 'gateway.log'}")
                time.sleep(SAMPLE_S)
        finally:
            if profiler is not None:
                try:
                    profiler.wait(PROFILE_S + 15)
                except subprocess.TimeoutExpired:
                    profiler.kill()
                    profiler.wait(5)
        for p in procs:
            p.join(10)
        while len(finished) < len(procs) and not results.empty():
            finished.append(results.get())
        last = metrics(metrics_port)
        result.dead_letters = last["dead_letters"] - base["dead_letters"]
        result.buffered = last["buffered_lines"] - base["buffered_lines"]
    if profiler is None:
        result.profile_from = None
        result.profile_note = "install py-spy (`pip install py-spy`) for a profile of the gateway"
    else:
        result.profile = read_py_spy(profile_out, CATEGORIES, OTHER, rate=PROFILE_RATE, top=8)
        if result.profile is None:
            tail = profile_log.read_text(errors="replace").strip().splitlines()[-1:]
            result.profile_note = f"py-spy gave no profile ({' '.join(tail) or 'no output'})"
    result.published = sum(r["acked"] for r in finished)
    result.publish_seconds = max((r["seconds"] for r in finished), default=0.0)
    result.publisher_cpu = sum(r["cpu"] for r in finished)
    result.stored_messages = count_seq(influx, "plantroom")
    return result


# -- the report -------------------------------------------------------------------------


def window(samples: Sequence[Sample], t0: float, t1: float) -> tuple[Sample, Sample]:
    inside = [s for s in samples if t0 <= s.t <= t1]
    if len(inside) < 2:
        inside = [samples[0], samples[-1]]
    return inside[0], inside[-1]


def per_s(a: Sample, b: Sample, value: Callable[[Sample], float]) -> float:
    return (value(b) - value(a)) / (b.t - a.t) if b.t > a.t else float("nan")


def cores(a: Sample, b: Sample, name: str) -> float:
    if name not in a.cpu or name not in b.cpu:
        return float("nan")
    return per_s(a, b, lambda s: s.cpu[name])


def fmt(n: float) -> str:
    return f"{n:,.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(ceiling: Ceiling, run: GatewayRun) -> str:
    samples = run.samples
    total_points = samples[-1].points_out
    first = next((s for s in samples if s.points_out > 0), samples[0])
    done = next((s for s in samples if s.points_out >= total_points), samples[-1])
    steady_end = min(run.publish_seconds, done.t)
    if run.profile_from is not None:
        steady_end = min(steady_end, run.profile_from)
    a, b = window(samples, first.t + WARM_UP_S, steady_end)
    steady = per_s(a, b, lambda s: s.points_out)
    overall = (done.points_out - first.points_out) / max(done.t - first.t, 1e-9)
    gw_cpu = done.cpu["gateway"] - samples[0].cpu["gateway"]
    per_cpu_s = total_points / gw_cpu if gw_cpu > 0 else float("nan")
    us_per_message = 1e6 * POINTS_PER_MESSAGE / per_cpu_s
    latencies = [s.latency_ms for s in samples if a.t <= s.t <= b.t and s.batches > 0]
    held = max(s.messages_in - s.acked for s in samples)
    share = steady / ceiling.rate
    loss_ok = run.stored_messages == run.published and run.published > 0
    pub_cores = run.publisher_cpu / run.publish_seconds if run.publish_seconds else float("nan")
    use = {
        f"gateway (pinned to core {GATEWAY_CORE})": cores(a, b, "gateway"),
        "mosquitto": cores(a, b, "mosquitto"),
        "influxd": cores(a, b, "influxd"),
        f"publisher{'s' if PUBLISHERS > 1 else ''} (pinned to core {LOAD_CORE})": pub_cores,
    }
    n_cores = os.cpu_count() or 1
    other = max(0.0, cores(a, b, "machine") - sum(use.values()))
    placement = (
        f"pinned to core {GATEWAY_CORE} (the publisher is pinned to core {LOAD_CORE}; "
        f"mosquitto and influxd run where the kernel puts them)"
        if pinning()
        else "on the machine's one core with everything else"
    )
    need_share = TARGET_SHARE * ceiling.rate

    out = [
        f"Target (issue 5): at least {fmt(TARGET_POINTS_S)} points/s through one gateway, and "
        f"at least {TARGET_SHARE:.0%} of what influxd itself takes in bulk on the same "
        f"machine. Points are point values ({POINTS_PER_MESSAGE} per pump message; the `seq` "
        f"field every line also carries is not counted), {len(equipment())} pumps, batches "
        f"of {BATCH_LINES:,} lines, gzip level 1 on both sides. The gateway is one "
        f"`plantroom gateway` process with its default settings, {placement}. The publisher "
        f"sends QoS 1 from pre-built packets and stays at most {BACKLOG:,} messages "
        f"ahead of the gateway, so the gateway is never short of work and the broker's queue "
        f"stays bounded.",
        "",
        "| | points/s | |",
        "|---|---:|---|",
        f"| influxd alone (the ceiling) | **{fmt(ceiling.rate)}** | {CEILING_WRITERS} writers, "
        f"{ceiling.batches} batches in {ceiling.seconds:.1f} s; influxd used "
        f"{ceiling.influxd_cores:.2f} cores, other work {ceiling.other_cores:.2f}"
        f"{' (every pre-built batch written before the time limit)' if ceiling.exhausted else ''}"
        " |",
        f"| gateway, steady state | **{fmt(steady)}** | {fmt(steady / POINTS_PER_MESSAGE)} "
        f"messages/s over {b.t - a.t:.0f} s while publishing; {share:.0%} of the ceiling |",
        f"| gateway, whole run | {fmt(overall)} | {fmt(total_points)} points, first to last "
        f"write in {done.t - first.t:.1f} s |",
        f"| gateway per CPU-second | {fmt(per_cpu_s)} | its intrinsic cost: "
        f"{us_per_message:.0f} µs of CPU per message |",
        "",
        f"* **{fmt(TARGET_POINTS_S)} points/s: {verdict(steady >= TARGET_POINTS_S)}** "
        f"({fmt(steady)}). **{TARGET_SHARE:.0%} of the ceiling: "
        f"{verdict(share >= TARGET_SHARE)}** ({share:.0%}).",
        f"* No loss: {fmt(run.published)} messages acknowledged by the broker to the "
        f"publisher, {fmt(run.stored_messages)} distinct samples (`count(seq)`) in InfluxDB: "
        f"{'equal' if loss_ok else '**NOT EQUAL**'}. {fmt(run.dead_letters)} dead letters, "
        f"{fmt(run.buffered)} lines through the disk buffer.",
        f"* Memory: gateway RSS {run.peak_rss_kib / 1024:.0f} MiB at its peak; it held at "
        f"most {fmt(held)} unacknowledged messages (Receive Maximum "
        f"{BATCH_LINES * (IN_FLIGHT + 1):,}: the batch size times one more than the batches "
        f"written at once).",
    ]
    if max(other, ceiling.other_cores) > QUIET_CORES:
        out.append(
            f"* **The machine was not quiet:** other work used {ceiling.other_cores:.2f} cores "
            f"during the ceiling and {other:.2f} during the gateway run, so both figures are "
            f"lower than on an idle machine; the CPU cost per message is the steadier figure."
        )
    if latencies:
        out.append(
            f"* Batch write latency (the gateway's gauge, sampled every {SAMPLE_S} s): median "
            f"{statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms."
        )
    out += [
        "",
        f"Where the machine's CPU goes in the steady state ({n_cores} cores in all):",
        "",
        "| process | cores |",
        "|---|---:|",
        *(f"| {name} | {value:.2f} |" for name, value in use.items()),
        f"| all four | {sum(use.values()):.2f} |",
        f"| everything else (other work on the machine, the sampler) | {other:.2f} |",
        "",
    ]
    if run.profile is not None:
        prof = run.profile
        out += [
            f"Where the gateway's CPU goes (py-spy, {prof.samples:,} samples at "
            f"{PROFILE_RATE} Hz over the last {PROFILE_S} s of publishing):",
            "",
            "| part | share of the gateway's CPU |",
            "|---|---:|",
            *(f"| {name} | {value:.0%} |" for name, value in prof.shares),
            "",
            "Hottest functions (own time): "
            + ", ".join(f"{name} {value:.0%}" for name, value in prof.top)
            + ".",
            "",
        ]
    elif run.profile_note:
        out += [f"No profile: {run.profile_note}.", ""]
    framing = dict(run.profile.shares).get("MQTT read and framing") if run.profile else None
    why = [
        f"**Reading the figures.** The gateway used {cores(a, b, 'gateway'):.2f} of its core in "
        f"the steady state at {us_per_message:.0f} µs of CPU per message: one gateway process "
        f"(one event loop, one core) carries about {fmt(per_cpu_s)} points/s at most, however "
        f"fast InfluxDB is."
    ]
    if framing is not None:
        why.append(
            f"{framing:.0%} of its CPU goes to reading the socket and splitting it into MQTT "
            f"packets; the rest is the gateway's own work (validation, encoding, batching, "
            f"writing, acknowledging) and the event loop."
        )
    if share < TARGET_SHARE and steady > 0:
        # every process's measured cores scaled to the target rate: what the machine would
        # have to give the whole path for the gateway to reach the share
        scale = need_share / steady
        need = {name: value * scale for name, value in use.items()}
        need_total = sum(need.values())
        gateway_need = need_share / per_cpu_s
        parts = ", ".join(f"{name.split(' (')[0]} {value:.2f}" for name, value in need.items())
        why.append(
            f"{TARGET_SHARE:.0%} of this ceiling is {fmt(need_share)} points/s "
            f"({fmt(need_share / POINTS_PER_MESSAGE)} messages/s). At each process's measured "
            f"cost per message that rate needs {need_total:.2f} cores for the whole path "
            f"({parts}), and the gateway alone {gateway_need:.2f} of its one core."
        )
        rest = sum(value for name, value in need.items() if not name.startswith("gateway"))
        if gateway_need > 1:
            why.append(
                "One gateway process cannot carry it; capacity beyond one core comes from more "
                "replicas in the shared subscription, on more cores."
            )
            if rest < n_cores < need_total:
                why.append(
                    f"Nor could this machine: the broker, InfluxDB and the publisher alone need "
                    f"{rest:.2f} of its {n_cores} cores at that rate, which leaves the gateway "
                    f"{n_cores - rest:.2f} of a core, "
                    f"{1e6 * (n_cores - rest) / (need_share / POINTS_PER_MESSAGE):.1f} µs of "
                    f"CPU per message."
                )
        elif need_total > n_cores:
            why.append(
                f"The gateway could, but this machine's {n_cores} cores cannot carry the broker, "
                f"InfluxDB and the gateway at that rate together: the path, not the gateway, "
                f"is the limit here. The ceiling itself was measured with influxd alone on "
                f"every core."
            )
        else:
            why.append(
                "Within the machine at the measured costs: the shortfall is the gateway not "
                "getting its whole core (see the CPU table)."
            )
    out.append(" ".join(why))
    return "\n".join(out)


def run() -> str:
    check_lines_match_gateway()
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-gw-") as tmp:
        workdir = Path(tmp)
        with servers(workdir) as (mosquitto, influx):
            assert influx.pid is not None
            ceiling = measure_ceiling(influx, influx.pid)
            gateway_run = run_gateway(mosquitto, influx, workdir)
    return report(ceiling, gateway_run)


if __name__ == "__main__":
    print(run())
