"""The cloud's telemetry intake in one thread, without a broker: CPU per message of each step.

    python -m benchmarks.ingest_cpu [--messages N] [--steady] [--profile]

The campus of `bench_ingest` (1,360 pieces of equipment) on a SQLite file in a temporary
directory, the shipped rules and every sample checked against its profile, as the service runs
them. The samples are those `bench_ingest`'s publisher sends, encoded beforehand; each is then
validated as the consumer does at its boundary (topic, payload, profile points) and processed
by the monitor in batches of the consumer's batch size, with the rule engine's tick once for
every sample of each piece of equipment. The monitor's clock is simulated: one second a round
of the campus, as on a campus whose equipment reports every second, so the default 61 rounds
hold the periodic saves of rule state (every 30 s) a service makes in a minute. What is
measured is this process's CPU time, so other load on the machine does not count.
`--profile` runs it under cProfile and shows the functions that took the most CPU themselves.

A fresh start has no history, so the rate, trend and counter rules have little to read.
`--steady` first gives every piece of equipment the history of a service that has run for
days: each windowed point's whole window, at the engine's finest resolution, saved once
before the measure starts (as a running service has).

The broker side (framing MQTT packets, acknowledging) and the event loop are not in it: the
whole path is `python -m benchmarks ingest`.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ingest_params import BUILDINGS, EQUIPMENT, PER_KIND, SITE, sample_points
from cloud import registry
from cloud.db import Database
from cloud.equipment import key
from cloud.ingest import BATCH_SIZE, TelemetryConsumer
from cloud.monitor import Item, Monitor, TelemetryItem, TickItem
from cloud.points import PointCheck, load_point_check
from cloud.rules.engine import MAX_HISTORY_SAMPLES, RuleEngine
from cloud.rules.service import RulesService
from cloud.rules.state import SNAPSHOT_VERSION
from cloud.sla import load_sla
from plantroom.inventory import load_inventory
from plantroom.settings import CloudSettings
from simulators.generate import generate_site

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 61  # of the campus, one simulated second each: two rule-state saves (every 30 s)
MESSAGES = ROUNDS * EQUIPMENT
TOP = 12


def _messages(site: Path, count: int, start_ms: int) -> list[tuple[str, bytes]]:
    """`count` samples round-robin over the site's equipment, as the publisher sends them,
    each piece of equipment's times rising."""
    inventory = load_inventory(site)
    equipment = [(b.id, str(e.kind), e.id) for b, e in inventory.equipment()]
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        building, kind, eid = equipment[i % len(equipment)]
        seq = i // len(equipment) + 1
        body = {"ts": start_ms + i, "seq": seq, "points": sample_points(kind, seq)}
        topic = f"plantroom/v1/{SITE}/{building}/{kind}/{eid}/telemetry"
        out.append((topic, json.dumps(body, separators=(",", ":")).encode()))
    return out


def _parse(messages: list[tuple[str, bytes]], points: PointCheck, *, tick_every: int) -> list[Item]:
    items: list[Item] = []
    for n, (topic, payload) in enumerate(messages, 1):
        if n % tick_every == 0:
            items.append(TickItem())
        item = TelemetryConsumer.parse(topic, payload)
        if isinstance(item, TelemetryItem):
            where = item.topic
            checked = points.check(key(where.site, where.equipment), item.telemetry)
            if checked is not None:
                items.append(TelemetryItem(item.topic, checked))
    return items


def _steady(engine: RuleEngine, now: float) -> None:
    """Every windowed point of every piece of equipment: a full window of history, one sample
    per slot of the engine's resolution, ending at the point's value now; a counter rises by
    one every ten minutes up to it, any other point holds it."""
    for equipment_id in engine.tracked_ids():
        windows: dict[str, float] = {}
        counters: set[str] = set()
        for rule in engine.rules_for(engine.kind_of(equipment_id)):
            for point, seconds in rule.history_points().items():
                windows[point] = max(seconds, windows.get(point, 0.0))
            counters |= rule.counter_points()
        values = engine.values(equipment_id)
        history: dict[str, list[list[float]]] = {}
        for point, seconds in windows.items():
            value = values.get(point)
            last = float(value) if isinstance(value, int | float) else 1.0
            step = seconds / (MAX_HISTORY_SAMPLES // 2)
            slots = int(seconds / step)
            history[point] = [
                [now - (slots - i) * step, last - ((slots - i) * step) // 600]
                if point in counters
                else [now - (slots - i) * step, last]
                for i in range(slots)
            ]
        engine.restore(equipment_id, {"version": SNAPSHOT_VERSION, "history": history})


class SimClock:
    """The monitor's clock, moved on by `_process`: one second a campus round."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def _process(monitor: Monitor, items: list[Item], clock: SimClock, per_second: int) -> None:
    """`items` in batches, the clock moving on `1 / per_second` s an item."""
    start_s = clock.now
    for start in range(0, len(items), BATCH_SIZE):
        clock.now = start_s + start / per_second
        monitor.process(items[start : start + BATCH_SIZE])
    clock.now = start_s + len(items) / per_second


@dataclass
class Breakdown:
    """CPU per message of validation (topic, payload, profile points) and of the monitor."""

    messages: int
    validate_us: float
    monitor_us: float  # the periodic saves of rule state included
    saves: int  # pieces of equipment whose rule state was saved while measured
    save_ms: float  # a save of every piece of equipment's rule state, a round after the last
    top: list[tuple[str, float]] = field(default_factory=list)  # function, share of the CPU

    @property
    def total_us(self) -> float:
        return self.validate_us + self.monitor_us


def top_costs(profile: cProfile.Profile, count: int = TOP) -> list[tuple[str, float]]:
    """The `count` functions that took the most CPU themselves (not counting what they
    called), each with its share of all the CPU profiled."""
    functions = pstats.Stats(profile).get_stats_profile().func_profiles
    total = sum(f.tottime for f in functions.values()) or 1.0
    ranked = sorted(functions.items(), key=lambda item: item[1].tottime, reverse=True)[:count]
    out = []
    for name, function in ranked:
        if function.file_name == "~":  # a built-in
            where = name
        else:
            path = Path(function.file_name).with_suffix("")
            parts = path.relative_to(ROOT).parts if path.is_relative_to(ROOT) else path.parts
            if "site-packages" in parts:
                parts = parts[parts.index("site-packages") + 1 :]
            where = f"{'.'.join(parts)}:{name}"
        out.append((where, function.tottime / total))
    return out


def run(messages: int = MESSAGES, *, steady: bool = False, profile: bool = False) -> Breakdown:
    """Set the campus up, then measure `messages` samples (profiled by cProfile if asked:
    the figures are then the profiler's, slower; its top costs are in `top`)."""
    with tempfile.TemporaryDirectory(prefix="plantroom-ingest-cpu-") as tmp:
        site = Path(tmp) / "site.yaml"
        site.write_text(generate_site(BUILDINGS, PER_KIND, 20000, site=SITE), encoding="utf-8")
        inventory = load_inventory(site)
        db = Database(f"sqlite:///{tmp}/cloud.sqlite")
        try:
            db.migrate()
            with db.session() as session:
                registry.sync_inventory(session, inventory)
            start_ms = int(time.time() * 1000) - 60_000
            clock = SimClock(start_ms / 1000)
            rules = RulesService(None, timezone=UTC, clock=clock)
            points = load_point_check(inventory, None)
            monitor = rules.monitor(
                db,
                site=inventory.site.id,
                sla=load_sla(),
                provided=points.provided(),
                live_interval=CloudSettings().live_write_interval_s,  # as the service's
            )
            monitor.load()
            equipment = len(list(inventory.equipment()))
            per_round = equipment + 1  # its samples and a tick
            everything = _messages(site, messages + 3 * equipment, start_ms)
            # every piece of equipment once: its first status and rule state are written
            _process(
                monitor,
                _parse(everything[:equipment], points, tick_every=equipment),
                clock,
                per_round,
            )
            if steady:
                _steady(monitor.engine, clock.now)
            # and once more, after which what it holds is saved, as a running service has it
            second = everything[equipment : 2 * equipment]
            _process(monitor, _parse(second, points, tick_every=equipment), clock, per_round)
            monitor.flush()
            batch = everything[2 * equipment : 2 * equipment + messages]
            saved = monitor.stats.states_saved
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
            cpu0 = time.process_time()
            items = _parse(batch, points, tick_every=equipment)
            cpu1 = time.process_time()
            _process(monitor, items, clock, per_round)
            cpu2 = time.process_time()
            if profiler is not None:
                profiler.disable()
            saves = monitor.stats.states_saved - saved
            # a round more, then every piece of equipment's rule state saved at once
            last = everything[2 * equipment + messages :]
            _process(monitor, _parse(last, points, tick_every=equipment), clock, per_round)
            cpu3 = time.process_time()
            monitor.flush()
            save_s = time.process_time() - cpu3
            if monitor.stats.telemetry != messages + 3 * equipment:
                raise RuntimeError(
                    f"{messages + 3 * equipment} samples sent, {monitor.stats.telemetry} processed"
                )
        finally:
            db.close()
    return Breakdown(
        messages=messages,
        validate_us=(cpu1 - cpu0) / messages * 1e6,
        monitor_us=(cpu2 - cpu1) / messages * 1e6,
        saves=saves,
        save_ms=save_s * 1e3,
        top=top_costs(profiler) if profiler is not None else [],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_cpu")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument(
        "--steady", action="store_true", help="start with days of history, not none"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile (cProfile) and show the top costs"
    )
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    result = run(args.messages, steady=args.steady, profile=args.profile)
    print(
        f"{result.messages:,} messages: validation {result.validate_us:.1f} µs, "
        f"monitor {result.monitor_us:.1f} µs, in all {result.total_us:.1f} µs of CPU per message"
        + (" (under the profiler)" if args.profile else "")
    )
    print(
        f"rule states saved meanwhile: {result.saves:,}; saving every piece of equipment's "
        f"a round after the last save: {result.save_ms:.0f} ms"
    )
    for where, share in result.top:
        print(f"{share:6.1%}  {where}")


if __name__ == "__main__":
    main()
