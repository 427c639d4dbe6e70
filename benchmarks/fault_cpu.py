"""One fault's cost on the cloud's database thread, without a broker: CPU per fault.

    python -m benchmarks.fault_cpu [--faults N] [--profile]

The 200 pumps of `bench_fault_latency` on a SQLite file in a temporary directory, the shipped
rules and SLA, every sample checked against its profile, the monitor set up as the service
sets it up (an empty maintenance board). Every pump reports its normal values once (one batch,
after which their status and rule state are saved, as a running service has them); then, pump
by pump, a routine batch (the intake's batch size of samples, of the next pumps in turn, one
simulated second apart, as a flood of routine samples keeps the thread busy, their rule
history falling due to be saved as it does in the service) and a batch of the pump's
`dry_run` fault, each applied by `Monitor.process` in a transaction of its own, as the intake
commits a fault that cuts into the routine flood. The fault's batch is everything a fault
costs the thread: rule evaluation, the alarm, the work order (number, team, due times, first
event), the rule state saved, the registry row, the commit. What is measured is this
process's CPU time, so other load on the machine does not count. `--profile` runs the faults
under cProfile and shows the functions that took the most CPU, themselves and with what they
called.

`python -m benchmarks overload` measures what this cost means with the cloud held to a tenth
of a core under a flood of samples.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.bench_fault_latency import PUMPS, SITE, inventory, pumps
from benchmarks.ingest_cpu import SimClock, top_costs
from benchmarks.ingest_params import sample_points
from benchmarks.measure import percentile
from cloud import registry
from cloud.db import Database
from cloud.ingest import BATCH_SIZE
from cloud.maintenance.window import Board
from cloud.monitor import Monitor, TelemetryItem
from cloud.points import PointCheck, load_point_check
from cloud.rules.service import RulesService
from cloud.sla import load_sla
from cloud.workorders.model import WorkOrder
from plantroom.inventory import load_inventory
from plantroom.schema import Telemetry
from plantroom.settings import CloudSettings
from plantroom.topics import EquipmentTopic

TOP = 15
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class FaultCost:
    """CPU of each fault's transaction and of a routine batch's, in milliseconds."""

    fault_ms: list[float]
    routine_ms: list[float]
    top: list[tuple[str, float]] = field(default_factory=list)  # function, share of the CPU
    cumulative: list[tuple[str, float]] = field(default_factory=list)  # with callees, ms/fault


def _item(
    points: PointCheck, building: str, pump: str, seq: int, values: dict[str, object]
) -> TelemetryItem:
    where = EquipmentTopic(SITE, building, "pump", pump)
    telemetry = Telemetry.model_validate(
        {"ts": int(time.time() * 1000), "seq": seq, "points": values}
    )
    checked = points.check(f"{SITE}/{pump}", telemetry)
    if checked is None:
        raise RuntimeError(f"every point of {pump}'s sample was refused")
    return TelemetryItem(where, checked)


def _cumulative(profile: cProfile.Profile, count: int, faults: int) -> list[tuple[str, float]]:
    """The `count` functions of the product that took the most CPU with what they called, in
    milliseconds per fault (the profiler's)."""
    stats = pstats.Stats(profile).get_stats_profile()
    ours = [
        (name, f)
        for name, f in stats.func_profiles.items()
        if "/cloud/" in f.file_name and "site-packages" not in f.file_name
    ]
    ranked = sorted(ours, key=lambda item: item[1].cumtime, reverse=True)[:count]
    return [
        (f"{Path(f.file_name).with_suffix('').name}:{name}", f.cumtime * 1e3 / faults)
        for name, f in ranked
    ]


def run(faults: int = PUMPS, *, profile: bool = False) -> FaultCost:
    """Set the pumps up, then measure `faults` faults, each after a routine batch
    (profiled by cProfile if asked: the figures are then the profiler's, slower)."""
    if not 1 <= faults <= PUMPS:
        raise ValueError(f"faults: from 1 to {PUMPS}, not {faults}")
    with tempfile.TemporaryDirectory(prefix="plantroom-fault-cpu-") as tmp:
        site = Path(tmp) / "site.yaml"
        site.write_text(inventory(), encoding="utf-8")
        loaded = load_inventory(site)
        db = Database(f"sqlite:///{tmp}/cloud.sqlite")
        # the service's log (WARNING and up, as `stack cloud --log-level WARNING` writes it)
        handler = logging.FileHandler(Path(tmp) / "cloud.log")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        level = root.level
        root.setLevel(logging.WARNING)
        try:
            db.migrate()
            with db.session() as session:
                registry.sync_inventory(session, loaded)
            clock = SimClock(time.time() - 3600)
            rules = RulesService(None, timezone=UTC, clock=clock)
            points = load_point_check(loaded, None)
            monitor: Monitor = rules.monitor(
                db,
                site=loaded.site.id,
                sla=load_sla(),
                provided=points.provided(),
                live_interval=CloudSettings().live_write_interval_s,  # as the service's
            )
            monitor.maintenance = Board()
            monitor.load()
            everything = pumps()
            monitor.process(
                [_item(points, b, p, 1, sample_points("pump", 1)) for b, p in everything]
            )
            monitor.flush()
            fault_ms: list[float] = []
            routine_ms: list[float] = []
            profiler = cProfile.Profile() if profile else None
            turn = 0
            for seq, (building, pump) in enumerate(everything[:faults], 2):
                clock.now += 1
                flood = []
                for _ in range(BATCH_SIZE):
                    b, p = everything[turn % len(everything)]
                    flood.append(_item(points, b, p, seq, sample_points("pump", seq + turn)))
                    turn += 1
                cpu0 = time.process_time()
                monitor.process(flood)
                cpu1 = time.process_time()
                fault = _item(
                    points, building, pump, seq + 1, {**sample_points("pump", seq), "dry_run": True}
                )
                if profiler is not None:
                    profiler.enable()
                cpu2 = time.process_time()
                monitor.process([fault])
                cpu3 = time.process_time()
                if profiler is not None:
                    profiler.disable()
                routine_ms.append((cpu1 - cpu0) * 1e3)
                fault_ms.append((cpu3 - cpu2) * 1e3)
            with db.session() as session:
                raised = session.scalar(select(func.count()).select_from(WorkOrder))
            if raised != faults:
                raise RuntimeError(f"{faults} faults sent, {raised} work orders raised")
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()
            db.close()
    return FaultCost(
        fault_ms=fault_ms,
        routine_ms=routine_ms,
        top=top_costs(profiler, TOP) if profiler is not None else [],
        cumulative=_cumulative(profiler, TOP, faults) if profiler is not None else [],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fault_cpu")
    parser.add_argument("--faults", type=int, default=PUMPS, help=f"1 to {PUMPS}")
    parser.add_argument(
        "--profile", action="store_true", help="profile (cProfile) and show the top costs"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.faults <= PUMPS:
        parser.error(f"--faults must be from 1 to {PUMPS}")
    result = run(args.faults, profile=args.profile)
    fault, routine = result.fault_ms, result.routine_ms
    print(
        f"{len(fault)} faults, CPU of the transaction: fault p50 {percentile(fault, 50):.2f} ms, "
        f"p99 {percentile(fault, 99):.2f} ms, mean {sum(fault) / len(fault):.2f} ms; "
        f"a routine batch of {BATCH_SIZE} samples p50 {percentile(routine, 50):.2f} ms"
        + (" (under the profiler)" if args.profile else "")
    )
    if result.top:
        print("itself:")
        for where, share in result.top:
            print(f"{share:6.1%}  {where}")
        print("with what it called, ms per fault:")
        for where, ms in result.cumulative:
            print(f"{ms:6.2f}  {where}")


if __name__ == "__main__":
    main()
