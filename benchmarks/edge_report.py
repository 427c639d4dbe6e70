"""The edge benchmark's figures: what a run gathered (`Result`) and its Markdown report."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmarks.edge_children import POLL_INTERVAL_S, PROFILE_S
from benchmarks.edge_params import (
    AGENT_CORE,
    COUNTERS,
    QUIET_CORES,
    SERVICE_CORE,
    TARGET_ON_SCHEDULE,
    TARGET_OVERHEAD,
    TARGET_RSS_MB,
    WARMUP_S,
)
from benchmarks.edge_stack import Window
from benchmarks.measure import verdict
from benchmarks.profiles import Profile


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
