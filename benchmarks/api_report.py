"""The API benchmark's figures: what each request costs alone (`Alone`), what an open-loop run
gathered (`Run`), and the Markdown report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.api_capacity import Figures, figures, recovery
from benchmarks.api_load import Phase, Sample
from benchmarks.api_params import (
    CALM,
    MAX_SHED,
    OPEN,
    OVERLOAD,
    QUIET_S,
    SEQUENTIAL,
    STEP_S,
    TARGET_MS,
    TECHNICIANS,
    WORK_ORDERS,
    WORKERS,
)
from benchmarks.measure import verdict
from plantroom.settings import CloudSettings


@dataclass(frozen=True, slots=True)
class Alone:
    """One kind of request sent alone: its median round trip and the server's CPU time."""

    what: str
    round_trip_ms: float
    cpu_ms: float


@dataclass(frozen=True, slots=True)
class Run:
    """One open-loop run of one or more phases."""

    phases: tuple[Phase, ...]
    samples: list[Sample]
    seconds: float
    server_cores: float
    client_cores: float

    def phase(self, n: int, kind: str | None = None) -> Figures:
        chosen = [s for s in self.samples if s.phase == n and kind in (None, s.kind)]
        return figures(chosen, self.phases[n].rate)

    def cpu_ms_per_served(self) -> float:
        served = sum(s.served for s in self.samples)
        return self.server_cores * self.seconds * 1000 / served if served else float("nan")


HEAD = (
    "| offered | request | requests | served | 503 | other errors | p50 ms | p90 ms | p99 ms "
    "| max ms | verdict | CPU server / client |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _row(f: Figures, what: str, run: Run, ok: str) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in f.errors.items()) or "0"
    return (
        f"| {f.rate:.0f}/s | {what} | {f.requests} | {f.served} | {f.shed_share:.1%} | {errors} "
        f"| {f.p50:.1f} | {f.p90:.1f} | {f.p99:.1f} | {f.max:.1f} | {ok} "
        f"| {run.server_cores:.0%} / {run.client_cores:.0%} |"
    )


ADMISSION = (
    "api_max_in_progress",
    "api_max_queued",
    "api_queue_wait_s",
    "api_queue_target_ms",
    "api_queue_interval_ms",
)


def _defaults(s: CloudSettings) -> bool:
    """Whether the admission settings in force are the defaults."""
    return all(getattr(s, f) == CloudSettings.model_fields[f].default for f in ADMISSION)


def _setup(insert_s: float, size_mb: float) -> str:
    s = CloudSettings()
    return (
        f"SQLite, {WORK_ORDERS:,} work orders ({OPEN:,} open) and {WORK_ORDERS:,} audit events "
        f"bulk-inserted in {insert_s:.1f} s ({size_mb:.0f} MB). The API (`create_app`, SLA "
        f"ticker on, no telemetry consumer) served by uvicorn with {WORKERS} worker "
        f"process(es), each admitting {s.api_max_in_progress} requests at once and "
        f"{s.api_max_queued} waiting up to {s.api_queue_wait_s * 1000:.0f} ms; once the queue "
        f"had not been empty for {s.api_queue_interval_ms:.0f} ms, a request whose turn came "
        f"after more than {s.api_queue_target_ms:g} ms of waiting was answered 503 "
        f"({'the defaults' if _defaults(s) else 'set for this run'}). "
        "The load: list and acknowledge requests in turn, open loop, from a minimal keep-alive "
        "HTTP/1.1 client on loopback (one asyncio loop in the benchmark's process); latency "
        "from each request's scheduled send time, over the requests served (answered 200). "
        "Lists: 50 per page, filters among status, building, priority, kind, offset. "
        f"Acknowledgements: a different open job each time, {TECHNICIANS} technicians."
    )


def report(
    alone: Sequence[Alone],
    idle_ms_per_s: float,
    fixed: Run,
    steps: Sequence[Run],
    capacity: float | None,
    overload: Run | None,
    insert_s: float,
    size_mb: float,
) -> str:
    ok = f"p99 ≤ {TARGET_MS:.0f} ms, ≤ {MAX_SHED:.0%} 503"
    lines = [
        _setup(insert_s, size_mb),
        "",
        f"**Cost per request**, each kind sent alone {SEQUENTIAL} times:",
        "",
        "| request | median round trip ms | server CPU ms |",
        "|---|---|---|",
        *(f"| {a.what} | {a.round_trip_ms:.1f} | {a.cpu_ms:.2f} |" for a in alone),
        "",
        f"**Idle**, before any of these: the API processes used {idle_ms_per_s:.1f} ms of CPU "
        f"a second over {QUIET_S:.0f} s (the SLA ticker and the other background work of "
        f"{WORKERS} process(es)).",
        "",
        f"**A fixed load** of {fixed.phases[0].rate:.0f} requests a second for "
        f"{fixed.phases[0].seconds:.0f} s:",
        "",
        HEAD,
    ]
    for kind in ("list", "acknowledge"):
        f = fixed.phase(0, kind)
        lines.append(_row(f, kind, fixed, verdict(f.met(TARGET_MS, MAX_SHED))))
    found = f"{capacity:.0f} requests a second" if capacity is not None else "not found"
    lines += [
        "",
        f"**Capacity**, the highest rate served with {ok}: **{found}**, in {len(steps)} "
        f"steps of {STEP_S:.0f} s:",
        "",
        HEAD,
    ]
    for step in steps:
        f = step.phase(0)
        lines.append(_row(f, "both", step, verdict(f.met(TARGET_MS, MAX_SHED))))
    if overload is not None:
        lines += ["", *_overload(overload)]
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        "CPU is in cores (100 % = one); server CPU per request alone is the API processes' "
        f"CPU time over the {SEQUENTIAL} requests (10 ms ticks). The machine's 1-minute load "
        f"average at the end was {load_avg:.1f} (it is shared with other work).",
    ]
    return "\n".join(lines)


def _overload(run: Run) -> list[str]:
    hot, calm = run.phase(0), run.phase(1)
    back = recovery([s for s in run.samples if s.phase == 1], TARGET_MS)
    served_rate = hot.served / run.phases[0].seconds
    if back.bad == 0:
        after = "every request after the drop was served within the target"
    elif back.settled:
        after = (
            f"{back.bad} request(s) after the drop were not served within the target, the "
            f"last due {back.last_bad_s * 1000:.0f} ms after it"
        )
    else:
        after = f"{back.bad} request(s) were not served within the target up to the phase's end"
    return [
        f"**Overload**: {OVERLOAD:g} times the capacity for {run.phases[0].seconds:.0f} s, then at "
        f"once {CALM:g} times it for {run.phases[1].seconds:.0f} s:",
        "",
        HEAD,
        _row(hot, "both", run, f"{served_rate:.0f}/s served"),
        _row(calm, "both", run, verdict(calm.met(TARGET_MS, MAX_SHED))),
        "",
        f"While overloaded the API served {served_rate:.0f} requests a second with p99 "
        f"{hot.p99:.1f} ms and answered {hot.shed_share:.0%} 503 at once; after the load "
        f"dropped, {after}. Server CPU per request served over the run: "
        f"{run.cpu_ms_per_served():.2f} ms.",
    ]
