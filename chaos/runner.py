"""The chaos campaign: one stack, one fault at a time, every reading and work order counted.

For each fault the campaign notes the newest `seq` of every piece of equipment in InfluxDB,
injects the fault (SIGKILL one process and start it again after the outage, or cut one edge
agent's link to the broker), injects a dry-run fault on a pump while the outage lasts, and
once every device reports again checks that

* each device's `seq` runs without a gap from before the fault to after recovery,
* the pump fault raised exactly one work order, and no (equipment, rule) pair has two,
* after the pump fault is cleared no alarm raised during the fault stays active.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from chaos.audit import Cloud, Influx, SeqAudit, audit_seqs, duplicate_work_orders
from chaos.proxy import LinkProxy
from plantroom.errors import ServiceError
from plantroom.ports import free_port, port_is_free
from plantroom.settings import EdgeSettings
from simulators.control import ControlClient
from simulators.generate import generate_site, generated_ports
from stack.demo import HOST, Demo, DemoPorts

T = TypeVar("T")

PUMP_FAULT = "dry_run"
PUMP_RULE = "pump.dry_run"
COMMIT_INTERVAL_S: float = EdgeSettings.model_fields["edge_commit_interval_s"].default
POLL_INTERVAL_S: float = EdgeSettings.model_fields["edge_poll_interval_s"].default


@dataclass(frozen=True)
class Fault:
    """`kill`: SIGKILL `process`, restart it after `outage_s`. `cut`: drop its broker link."""

    process: str
    action: Literal["kill", "cut"]
    outage_s: float

    @property
    def label(self) -> str:
        if self.action == "kill":
            return f"kill -9 {self.process}"
        return f"cut {self.process} ↔ broker"


@dataclass(frozen=True)
class ChaosConfig:
    buildings: int
    per_kind: int
    kill_outage_s: float
    cut_outage_s: float
    settle_timeout_s: float = 120.0
    recovery_timeout_s: float = 180.0
    work_order_timeout_s: float = 60.0
    alarm_clear_timeout_s: float = 180.0

    @property
    def devices(self) -> int:
        return self.buildings * self.per_kind * 4

    def faults(self, edge: str) -> list[Fault]:
        kill = self.kill_outage_s
        return [
            Fault("mosquitto", "kill", kill),
            Fault("influxd", "kill", kill),
            Fault("gateway", "kill", kill),
            Fault(edge, "kill", kill),
            Fault("cloud", "kill", kill),
            Fault(edge, "cut", self.cut_outage_s),
        ]


FULL = ChaosConfig(buildings=4, per_kind=20, kill_outage_s=20.0, cut_outage_s=150.0)
REDUCED = ChaosConfig(
    buildings=2,
    per_kind=3,
    kill_outage_s=3.0,
    cut_outage_s=8.0,
    settle_timeout_s=60.0,
    recovery_timeout_s=40.0,
    work_order_timeout_s=30.0,
    alarm_clear_timeout_s=30.0,
)


@dataclass
class FaultResult:
    fault: Fault
    pump: str
    audit: SeqAudit
    recovery_s: float | None
    faults_injected: int = 1
    work_orders_raised: int = 0
    duplicate_work_orders: list[str] = field(default_factory=list)
    alarms_stuck: list[str] = field(default_factory=list)
    other_work_orders: int = 0
    silence_before_kill_ms: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def missed_faults(self) -> int:
        return max(0, self.faults_injected - min(self.work_orders_raised, 1))

    @property
    def ok(self) -> bool:
        return (
            self.recovery_s is not None
            and self.audit.lost == 0
            and self.audit.duplicates == 0
            and self.missed_faults == 0
            and self.work_orders_raised == 1
            and not self.duplicate_work_orders
            and not self.alarms_stuck
            and self.within_commit_window
        )

    @property
    def within_commit_window(self) -> bool:
        if self.silence_before_kill_ms is None:
            return True
        return self.silence_before_kill_ms <= commit_window_ms()


def commit_window_ms() -> int:
    """What a killed edge agent may lose: the commit interval plus the poll in progress."""
    return int((COMMIT_INTERVAL_S + 2 * POLL_INTERVAL_S) * 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_for(
    probe: Callable[[], T | None], timeout: float, interval: float = 0.5
) -> tuple[T | None, float]:
    """Call `probe` until it answers something truthy or `timeout` passes: (answer, seconds)."""
    start = time.monotonic()
    last: T | None = None
    while True:
        last = probe()
        elapsed = time.monotonic() - start
        if last or elapsed >= timeout:
            return last, elapsed
        time.sleep(interval)


def free_port_block(count: int, attempts: int = 50) -> int:
    """The first of `count` consecutive free ports on loopback, below Linux's ephemeral range
    (32768 up) so that no port handed out by `free_port` afterwards can fall inside it."""
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(20000, 32768 - count)
        if all(port_is_free(HOST, base + i) for i in range(count)):
            return base
    raise ServiceError(f"no block of {count} free ports found on {HOST}")


class Campaign:
    """Runs the stack in `var_dir`, injects every fault of `config` in turn, returns results."""

    def __init__(self, config: ChaosConfig, var_dir: Path, out: TextIO) -> None:
        self.config = config
        self.var = var_dir.resolve()
        self.out = out
        self.results: list[FaultResult] = []
        self.started_at = datetime.now(UTC)
        self.settle_s = 0.0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- set-up -------------------------------------------------------------------------------
    def _site(self) -> Path:
        c = self.config
        base = free_port_block(generated_ports(c.buildings, c.per_kind))
        path = self.var / "site.yaml"
        path.write_text(generate_site(c.buildings, c.per_kind, base, site="chaos"))
        return path

    def run(self) -> list[FaultResult]:
        if self.var.exists():
            shutil.rmtree(self.var)
        self.var.mkdir(parents=True)
        site = self._site()
        ports = DemoPorts(api=free_port(), mqtt=free_port(), influx=free_port(), sim=free_port())
        proxy_port = free_port()
        commit = {"PLANTROOM_EDGE_COMMIT_INTERVAL_S": str(COMMIT_INTERVAL_S)}
        overrides = {f"edge-b{b}": dict(commit) for b in range(1, self.config.buildings + 1)}
        edge = "edge-b1"
        overrides[edge]["PLANTROOM_MQTT_PORT"] = str(proxy_port)
        demo = Demo(
            ports,
            inventory=site,
            var_dir=self.var / "stack",
            out=self.out,
            env_overrides=overrides,
        )
        if edge not in {f"edge-{b.id}" for b in demo.inventory.buildings}:
            raise ServiceError(f"the generated site has no building for {edge}")
        proxy = LinkProxy(HOST, proxy_port, HOST, ports.mqtt)
        proxy.start()
        try:
            demo.start()
            demo.wait_ready(timeout=90)

            def token() -> str:
                creds = json.loads(demo.credentials_path.read_text())
                return next(str(u["token"]) for u in creds["users"] if u["role"] == "technician")

            ctx = _Context(
                demo=demo,
                proxy=proxy,
                influx=Influx(demo.influxd.url, "plantroom"),
                cloud=Cloud(demo.api_url, token),
                sim=ControlClient(demo.sim_url, timeout=10),
                equipment={e.id for _, e in demo.inventory.equipment()},
                pumps={
                    b.id: [e.id for e in b.equipment if e.kind == "pump"]
                    for b in demo.inventory.buildings
                },
            )
            self._settle(ctx)
            for n, fault in enumerate(self.config.faults(edge)):
                self.results.append(self._one(ctx, fault, n))
        finally:
            demo.stop()
            proxy.close()
        return self.results

    def _settle(self, ctx: _Context) -> None:
        start_ms = now_ms()
        self.say(f"waiting for all {len(ctx.equipment)} devices to report …")

        def all_fresh() -> bool:
            ctx.demo.check_children()
            return set(ctx.influx.last_seq(start_ms)) >= ctx.equipment

        ok, self.settle_s = wait_for(all_fresh, self.config.settle_timeout_s)
        if not ok:
            missing = ctx.equipment - set(ctx.influx.last_seq(start_ms))
            raise ServiceError(
                f"{len(missing)} devices never reported within "
                f"{self.config.settle_timeout_s:.0f}s: {sorted(missing)[:10]}"
            )
        self.say(f"all devices reporting after {self.settle_s:.0f}s")

    # -- one fault --------------------------------------------------------------------------
    def _one(self, ctx: _Context, fault: Fault, n: int) -> FaultResult:
        c = self.config
        building = (
            fault.process.removeprefix("edge-") if fault.process.startswith("edge-") else None
        )
        # an agent's own pumps for an agent fault; the other faults take them from the far end
        pumps = (
            ctx.pumps[building]
            if building
            else [p for ps in reversed(ctx.pumps.values()) for p in ps]
        )
        pump = next(p for p in pumps if p not in ctx.used_pumps)
        ctx.used_pumps.add(pump)
        self.say(f"[{n + 1}] {fault.label} for {fault.outage_s:.0f}s (pump fault on {pump})")

        baseline_alarms = {a["id"] for a in ctx.cloud.active_alarms()}
        wo_from = datetime.now(UTC) - timedelta(seconds=1)
        before = {eq: seq for eq, (_, seq) in ctx.influx.last_seq(now_ms() - 300_000).items()}
        t_fault = now_ms()

        if fault.action == "kill":
            ctx.demo.kill(fault.process)
        else:
            ctx.proxy.cut()
        ctx.sim.inject(pump, PUMP_FAULT)
        self._hold(ctx, fault)
        if fault.action == "kill":
            ctx.demo.restart(fault.process)
        else:
            ctx.proxy.restore()
        t_restored = now_ms()

        def recovered() -> bool:
            ctx.demo.check_children()
            try:
                return set(ctx.influx.last_seq(t_restored)) >= ctx.equipment
            except ServiceError:
                return False

        ok, waited = wait_for(recovered, c.recovery_timeout_s)
        recovery_s = waited if ok else None
        result = FaultResult(fault, pump, SeqAudit(0, 0, 0), recovery_s)
        if not ok:
            fresh = set(ctx.influx.last_seq(t_restored))
            result.notes.append(
                f"{len(ctx.equipment - fresh)} devices not reporting "
                f"{c.recovery_timeout_s:.0f}s after the restore"
            )

        def pump_orders() -> list[dict[str, Any]]:
            try:
                since = ctx.cloud.work_orders(wo_from)
            except ServiceError:
                return []  # the cloud is still starting
            return [w for w in since if w["equipment_id"] == pump and w["rule_id"] == PUMP_RULE]

        orders, wo_s = wait_for(pump_orders, c.work_order_timeout_s)
        ctx.sim.clear(pump, PUMP_FAULT)

        # every seq up to what each device had sent when it was seen again must be stored
        after = {eq: seq for eq, (_, seq) in ctx.influx.last_seq(t_restored).items()}

        def clean_audit() -> SeqAudit | None:
            rows = ctx.influx.readings_since(t_fault - 300_000)
            found = audit_seqs(before, after, {eq: (s for _, s in r) for eq, r in rows.items()})
            result.audit = found
            return found if found.lost == 0 and found.duplicates == 0 else None

        wait_for(clean_audit, 30.0, interval=1.0)
        if fault.action == "kill" and building is not None:
            rows = ctx.influx.readings_since(t_fault - 300_000)
            silences = [
                t_fault - max((ts for ts, _ in r if ts <= t_fault), default=t_fault)
                for eq, r in rows.items()
                if eq in ctx.building_equipment(building)
            ]
            result.silence_before_kill_ms = max(silences, default=None)

        def no_new_alarms() -> bool:
            return not any(a["id"] not in baseline_alarms for a in ctx.cloud.active_alarms())

        cleared, clear_s = wait_for(no_new_alarms, c.alarm_clear_timeout_s, interval=1.0)
        if not cleared:
            result.alarms_stuck = sorted(
                f"{a['equipment_id']}:{a['rule_id']}"
                for a in ctx.cloud.active_alarms()
                if a["id"] not in baseline_alarms
            )
        since = ctx.cloud.work_orders(wo_from)
        result.work_orders_raised = len(pump_orders()) if orders else 0
        result.other_work_orders = len([w for w in since if w["equipment_id"] != pump])
        result.duplicate_work_orders = sorted(
            set(duplicate_work_orders(since))
            | set(duplicate_work_orders(ctx.cloud.live_work_orders()))
        )
        self.say(
            f"    readings {result.audit.found}/{result.audit.expected}, lost {result.audit.lost}, "
            f"work orders {result.work_orders_raised}, duplicates "
            f"{len(result.duplicate_work_orders)}, alarms stuck {len(result.alarms_stuck)}, "
            f"recovery {'-' if recovery_s is None else f'{recovery_s:.1f}s'}"
            + ("" if result.ok else "  FAILED")
        )
        self.say(f"    (work order after {wo_s:.1f}s, alarms clear after {clear_s:.1f}s)")
        if result.audit.gaps:
            result.notes.append("seq gaps: " + result.audit.describe_gaps())
        return result

    def _hold(self, ctx: _Context, fault: Fault) -> None:
        """Keep the outage for its length, watching that nothing else died meanwhile."""
        end = time.monotonic() + fault.outage_s
        while (left := end - time.monotonic()) > 0:
            for child in ctx.demo.children:
                if child.name != fault.process and child.proc is not None and not child.alive():
                    raise ServiceError(
                        f"{child.name} died during {fault.label}; last lines of "
                        f"{child.log_path}:\n{child.tail()}"
                    )
            time.sleep(min(left, 0.5))


@dataclass
class _Context:
    demo: Demo
    proxy: LinkProxy
    influx: Influx
    cloud: Cloud
    sim: ControlClient
    equipment: set[str]
    pumps: dict[str, list[str]]
    used_pumps: set[str] = field(default_factory=set)

    def building_equipment(self, building: str) -> set[str]:
        for b in self.demo.inventory.buildings:
            if b.id == building:
                return {e.id for e in b.equipment}
        return set()
