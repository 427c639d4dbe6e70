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

import multiprocessing as mp
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.gateway_ceiling import measure_ceiling
from benchmarks.gateway_load import (
    LOAD_CORE,
    POINTS_PER_MESSAGE,
    PUBLISHERS,
    base_ts,
    check_lines_match_gateway,
    equipment,
    probe_until,
    publisher,
    topic,
)
from benchmarks.gateway_params import (
    DRAIN_LIMIT_S,
    MAX_MESSAGES,
    PROFILE_RATE,
    PROFILE_S,
    PUBLISH_S,
    SAMPLE_S,
)
from benchmarks.gateway_report import GatewayRun, Sample, report
from benchmarks.gateway_stack import count_seq, gateway_process, metrics, try_metrics
from benchmarks.measure import servers
from benchmarks.procstat import cpu_seconds, machine_busy_seconds, memory_kib
from benchmarks.profiles import read_py_spy, start_py_spy
from plantroom.ports import free_port
from stack.services import Influxd, Mosquitto

TITLE = "Gateway: MQTT → InfluxDB throughput"

# -- where the gateway's CPU goes (py-spy) -------------------------------------------------

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("validate the payload (pydantic)", ("parse_telemetry (",)),
    ("encode the line", ("TelemetryEncoder.",)),
    ("acknowledge (PUBACK)", ("Subscriber.ack (", "Gateway._complete (")),
    ("write batches (gzip, httpx)", ("InfluxWriter.", "BatchSink.store (", "BatchSink.write (")),
    ("the rest of message handling (batching, counters)", ("Gateway._on_message (",)),
    # the socket read and the framing, everything under the transport's read callback that
    # none of the categories above claimed
    ("MQTT read and framing", ("Subscriber._received (", "_read_ready (")),
)
OTHER = "event loop, health line, /metrics, the rest"


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
