"""The gateway benchmark's figures: the gateway run's samples (`Sample`, `GatewayRun`) and
the Markdown report of it against the ceiling."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.gateway_ceiling import Ceiling
from benchmarks.gateway_load import BACKLOG, LOAD_CORE, POINTS_PER_MESSAGE, PUBLISHERS, equipment
from benchmarks.gateway_params import (
    BATCH_LINES,
    CEILING_WRITERS,
    GATEWAY_CORE,
    IN_FLIGHT,
    PROFILE_RATE,
    PROFILE_S,
    QUIET_CORES,
    SAMPLE_S,
    TARGET_POINTS_S,
    TARGET_SHARE,
    WARM_UP_S,
)
from benchmarks.measure import verdict
from benchmarks.procstat import pinning
from benchmarks.profiles import Profile


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
