"""The soak: the campus load (`bench_campus`) for `PLANTROOM_BENCH_SOAK_S` seconds (an hour by
default), every process sampled every 10 s for its RSS and, where it has one, its queue depth:

* each edge agent's store-and-forward buffer, `queue_depth` of its newest health report;
* the gateway's disk buffer, `buffer_depth` of its `/metrics`;
* the cloud's intake queue, `queued` of `/api/health` (as the campus load reads it);
* mosquitto's stored messages, from `$SYS` (published by default every 10 s).

Polls on schedule and fault → work order are measured as the campus load measures them (a
fire panel fault every 30 s), so the report shows whether the service stayed healthy. The
report goes into docs/reliability.md (run only when named: `python -m benchmarks soak`); the
raw samples into var/bench/soak-<time>.csv, and all the run gathered into soak-<time>.json,
from which `python -m benchmarks.bench_soak var/bench/soak-<time>.json` writes the section
again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.bench_campus import Campus, cloud_intake, traced_equipment
from benchmarks.campus_params import ROOT
from benchmarks.campus_report import health_tally
from benchmarks.campus_stack import Stack, running_campus
from benchmarks.measure import parse_metrics, rss_mib
from benchmarks.pages import put_section, titled
from benchmarks.procstat import cpu_seconds, machine_busy_seconds, own_cpu
from benchmarks.soak_params import (
    CSV_DIR,
    DURATION_S,
    FAULT_EVERY_S,
    MIN_DURATION_S,
    SAMPLE_S,
    SYS_STORED,
)
from benchmarks.soak_report import (
    Sample,
    SoakResults,
    load_json,
    report,
    save_json,
    write_csv,
)
from cloud.ingest import QUEUE_SIZE
from plantroom.health import EdgeHealth

TITLE = "Soak: the campus load for an hour"
PAGE = ROOT / "docs" / "reliability.md"
ON_REQUEST = True  # an hour: not part of `python -m benchmarks`


class Soak(Campus):
    """The campus measurement with 10 s samples of memory and queues; of the agents' health
    reports only the newest is kept, with the poll figures of each."""

    def __init__(self, stack: Stack, panels: list[tuple[str, str]]):
        super().__init__(stack, {}, panels)
        self.fault_every = FAULT_EVERY_S
        self.soak = SoakResults(bounds={"cloud": float(QUEUE_SIZE)})
        self.depth: dict[str, float] = {}  # newest queue depth by agent
        self.stored: float | None = None  # newest count of mosquitto's stored messages

    def _on_health(self, agent: str, report: EdgeHealth, now: float) -> None:
        self.r.health[agent] = [(now, report)]
        depth, bound = report.agent.get("queue_depth"), report.agent.get("queue_max")
        if isinstance(depth, int | float):
            self.depth[agent] = float(depth)
        if isinstance(bound, int | float):
            self.soak.bounds[agent] = float(bound)
        tally = health_tally(report)
        if tally is not None and self.t0:
            self.soak.polls.setdefault(agent, []).append((now - self.t0, tally))

    def _on_message(self, topic: str, payload: bytes, now: float) -> None:
        if topic == SYS_STORED:
            self.stored = float(payload.decode())
            return
        super()._on_message(topic, payload, now)

    async def _take(self, http: httpx.AsyncClient, pids: dict[str, int]) -> Sample:
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu["bench"] = own_cpu()
        cpu["machine"] = machine_busy_seconds()
        rss = {name: rss_mib(pid) for name, pid in pids.items()}
        queue = {agent: self.depth[agent] for agent in self.stack.agents if agent in self.depth}
        metrics = parse_metrics((await http.get(self.stack.metrics_url)).text)
        if "buffer_depth" in metrics:
            queue["gateway"] = metrics["buffer_depth"]
        queue["cloud"] = (await cloud_intake(http, self.stack.api_url))["queued"]
        if self.stored is not None:
            queue["mosquitto"] = self.stored
        self.stack.check_alive()
        return Sample(
            time.time() - self.t0,
            rss,
            queue,
            cpu,
            faults=len(self.r.fault_poll_ms),
            fault_timeouts=self.r.fault_timeouts,
        )

    async def _samples(self) -> None:
        """A sample at the start of the window and every SAMPLE_S until its end."""
        pids = self.stack.pids()
        async with httpx.AsyncClient(timeout=10.0) as http:
            n = 0
            while self.t0 + n * SAMPLE_S <= self.t1 + 0.5:
                await asyncio.sleep(max(0.0, self.t0 + n * SAMPLE_S - time.time()))
                self.soak.samples.append(await self._take(http, pids))
                n += 1
                if n % 30 == 0:
                    print(f"soak: {self.soak.samples[-1].t / 60:.0f} min", flush=True)

    async def soak_run(self, started: float) -> SoakResults:
        async with self.window(started, DURATION_S, SYS_STORED, qos=0) as client:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._samples(), name="sample")
                tg.create_task(self._faults(client), name="faults")
            self.soak.load_avg = os.getloadavg()
        self.soak.window_s = self.t1 - self.t0
        self.soak.startup_s = self.r.startup_s
        self.soak.fault_poll_ms = list(self.r.fault_poll_ms)
        return self.soak


def body(r: SoakResults, samples: Path) -> str:
    """The report, and where the run's samples are kept."""
    where = samples.relative_to(ROOT) if samples.is_relative_to(ROOT) else samples
    return report(r) + f"\n\nRaw samples: `{where.with_suffix('.csv')}` (not kept in git)."


def run() -> str:
    if DURATION_S < MIN_DURATION_S:
        raise ValueError(
            f"PLANTROOM_BENCH_SOAK_S must be at least {MIN_DURATION_S:.0f} s, got {DURATION_S:g}"
        )
    with running_campus("plantroom-bench-soak-") as (stack, site_file, started):
        _, panels = traced_equipment(site_file)
        results = asyncio.run(Soak(stack, panels).soak_run(started))
        results.took_s = time.monotonic() - started
    results.ended = time.time()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = CSV_DIR / f"soak-{stamp}.json"
    save_json(results, path)
    write_csv(results, path.with_suffix(".csv"))
    print(f"samples: {path.relative_to(ROOT)} and .csv", flush=True)
    return body(results, path)


def main(argv: list[str] | None = None) -> int:
    """Render a finished run's section again from its saved results."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_soak",
        description="write the soak's section of docs/reliability.md from a run's results",
    )
    parser.add_argument("results", type=Path, help="var/bench/soak-<time>.json of a run")
    parser.add_argument("--no-write", action="store_true", help="print, leave the page alone")
    args = parser.parse_args(argv)
    try:
        r = load_json(args.results)
    except ValueError as exc:
        parser.error(str(exc))
    section = titled(
        "soak",
        TITLE,
        body(r, args.results.resolve()),
        r.took_s,
        datetime.fromtimestamp(r.ended, UTC),
    )
    print(section)
    if not args.no_write:
        PAGE.write_text(put_section(PAGE.read_text() if PAGE.exists() else "", "soak", section))
        print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
