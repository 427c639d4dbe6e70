"""The chaos campaign: one stack, one fault at a time, every reading and work order counted.

For each fault (see chaos/faults.py) the campaign notes the newest `seq` of every piece of
equipment in InfluxDB, injects the fault, injects a dry-run fault on one pump per process
hit while the outage lasts, and once every device reports again checks that

* each device's `seq` runs without a gap from before the fault to after recovery,
* each pump fault raised exactly one work order, and no (equipment, rule) pair has two,
* after the pump faults are cleared no alarm raised during the fault stays active.

The PostgreSQL case runs on a second, small stack whose cloud uses PostgreSQL.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO, TypeVar

from chaos.audit import Cloud, Influx, SeqAudit, audit_seqs, duplicate_work_orders
from chaos.disk import Tmpfs, mount_refused
from chaos.faults import (
    COMMIT_INTERVAL_S,
    FULL,
    REDUCED,
    ChaosConfig,
    Fault,
    FaultResult,
)
from chaos.inject import Stack, begin, disk_full_findings, end, mail_findings
from chaos.proxy import LinkProxy
from plantroom.errors import ServiceError
from plantroom.ports import free_port, port_is_free
from simulators.control import ControlClient
from simulators.generate import generate_site, generated_ports
from stack.demo import HOST, Demo, DemoPorts
from stack.pgserver import postgres_dir

__all__ = ["FULL", "REDUCED", "Campaign", "ChaosConfig", "FaultResult"]

T = TypeVar("T")

PUMP_FAULT = "dry_run"
PUMP_RULE = "pump.dry_run"
EDGE_DISK_BYTES = 64 * 1024 * 1024
GATEWAY_DISK_BYTES = 32 * 1024 * 1024


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
    """Runs the stacks in `var_dir`, injects every fault of `config` in turn, returns results."""

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
    def _site(self, name: str, buildings: int, per_kind: int) -> Path:
        base = free_port_block(generated_ports(buildings, per_kind))
        path = self.var / f"{name}.yaml"
        path.write_text(generate_site(buildings, per_kind, base, site="chaos"))
        return path

    def run(self) -> list[FaultResult]:
        if self.var.exists():
            shutil.rmtree(self.var)
        self.var.mkdir(parents=True)
        self._main_stack()
        self._postgres_stack()
        return self.results

    def _demo(self, site: Path, var: Path, postgres: Path | None = None) -> Demo:
        ports = DemoPorts(
            api=free_port(),
            mqtt=free_port(),
            influx=free_port(),
            sim=free_port(),
            postgres=free_port(),
            smtp=free_port(),
        )
        demo = Demo(ports, inventory=site, var_dir=var, out=self.out, postgres=postgres)
        commit = {"PLANTROOM_EDGE_COMMIT_INTERVAL_S": str(COMMIT_INTERVAL_S)}
        demo.env_overrides = {f"edge-{b.id}": dict(commit) for b in demo.inventory.buildings}
        return demo

    def _stack(self, demo: Demo) -> Stack:
        demo.start()
        demo.wait_ready(timeout=90)

        def token() -> str:
            creds = json.loads(demo.credentials_path.read_text())
            return next(str(u["token"]) for u in creds["users"] if u["role"] == "technician")

        stack = Stack(
            demo=demo,
            influx=Influx(demo.influxd.url, "plantroom"),
            cloud=Cloud(demo.api_url, token),
            sim=ControlClient(demo.sim_url, timeout=10),
            equipment={e.id for _, e in demo.inventory.equipment()},
            pumps={
                b.id: [e.id for e in b.equipment if e.kind == "pump"]
                for b in demo.inventory.buildings
            },
        )
        self._settle(stack)
        return stack

    def _main_stack(self) -> None:
        c = self.config
        site = self._site("site", c.buildings, c.per_kind)
        edge = "edge-b1"
        faults = c.faults(edge)
        demo = self._demo(site, self.var / "stack")
        if edge not in {f"edge-{b.id}" for b in demo.inventory.buildings}:
            raise ServiceError(f"the generated site has no building for {edge}")
        proxy = LinkProxy(HOST, free_port(), HOST, demo.ports.mqtt)
        demo.env_overrides[edge]["PLANTROOM_MQTT_PORT"] = str(proxy.listen_port)
        disks: dict[str, Tmpfs] = {}
        refused = mount_refused(self.var) if any(f.action == "disk" for f in faults) else None
        try:
            if any(f.action == "disk" for f in faults) and refused is None:
                disks[edge] = Tmpfs(self.var / "disk-edge", EDGE_DISK_BYTES).mount()
                disks["gateway"] = Tmpfs(self.var / "disk-gateway", GATEWAY_DISK_BYTES).mount()
                demo.env_overrides[edge]["PLANTROOM_EDGE_BUFFER_PATH"] = str(
                    disks[edge].path / f"{edge}.sqlite"
                )
                demo.env_overrides["gateway"] = {
                    "PLANTROOM_GATEWAY_BUFFER_DIR": str(disks["gateway"].path)
                }
            proxy.start()
            stack = self._stack(demo)
            stack.proxy, stack.disks = proxy, disks
            for fault in faults:
                if fault.action == "disk" and refused is not None:
                    self.say(f"[{len(self.results) + 1}] {fault.label}: skipped, {refused}")
                    skip = FaultResult(fault, [], SeqAudit(0, 0, 0), None, skipped=refused)
                    self.results.append(skip)
                    continue
                self.results.append(self._one(stack, fault, len(self.results)))
        finally:
            demo.stop()
            proxy.close()
            for disk in disks.values():
                disk.unmount()

    def _postgres_stack(self) -> None:
        """The cloud on PostgreSQL, in a small stack of its own."""
        faults = self.config.postgres_faults()
        if not faults:
            return
        site = self._site("site-pg", 2, self.config.pg_per_kind)
        pg_dir = postgres_dir("plantroom-chaos-pg-")
        demo = self._demo(site, self.var / "stack-pg", postgres=pg_dir)
        try:
            stack = self._stack(demo)
            for fault in faults:
                self.results.append(self._one(stack, fault, len(self.results)))
        finally:
            demo.stop()
            shutil.rmtree(pg_dir, ignore_errors=True)

    def _settle(self, stack: Stack) -> None:
        start_ms = now_ms()
        self.say(f"waiting for all {len(stack.equipment)} devices to report …")

        def all_fresh() -> bool:
            stack.demo.check_children()
            return set(stack.influx.last_seq(start_ms)) >= stack.equipment

        ok, settle_s = wait_for(all_fresh, self.config.settle_timeout_s)
        self.settle_s = max(self.settle_s, settle_s)
        if not ok:
            missing = stack.equipment - set(stack.influx.last_seq(start_ms))
            raise ServiceError(
                f"{len(missing)} devices never reported within "
                f"{self.config.settle_timeout_s:.0f}s: {sorted(missing)[:10]}"
            )
        self.say(f"all devices reporting after {settle_s:.0f}s")

    # -- one fault --------------------------------------------------------------------------
    def _one(self, stack: Stack, fault: Fault, n: int) -> FaultResult:
        c = self.config
        pumps = stack.pumps_for(fault)
        self.say(
            f"[{n + 1}] {fault.label} for {fault.outage_s:.0f}s (pump faults on {', '.join(pumps)})"
        )
        baseline_alarms = {a["id"] for a in stack.cloud.active_alarms()}
        wo_from = datetime.now(UTC) - timedelta(seconds=1)
        before = {eq: seq for eq, (_, seq) in stack.influx.last_seq(now_ms() - 300_000).items()}
        t_fault = now_ms()

        begin(stack, fault, c)
        for pump in pumps:
            stack.sim.inject(pump, PUMP_FAULT)
        self._hold(stack, fault)
        end(stack, fault)
        t_restored = now_ms()

        def recovered() -> bool:
            stack.demo.check_children()
            try:
                return set(stack.influx.last_seq(t_restored)) >= stack.equipment
            except ServiceError:
                return False

        ok, waited = wait_for(recovered, c.recovery_timeout_s)
        result = FaultResult(fault, pumps, SeqAudit(0, 0, 0), waited if ok else None)
        if not ok:
            fresh = set(stack.influx.last_seq(t_restored))
            result.notes.append(
                f"{len(stack.equipment - fresh)} devices not reporting "
                f"{c.recovery_timeout_s:.0f}s after the restore"
            )

        def pump_orders() -> dict[str, int] | None:
            try:
                since = stack.cloud.work_orders(wo_from)
            except ServiceError:
                return None  # the cloud is still starting
            counts = {
                p: sum(1 for w in since if w["equipment_id"] == p and w["rule_id"] == PUMP_RULE)
                for p in pumps
            }
            return counts if all(counts.values()) else None

        _, wo_s = wait_for(pump_orders, c.work_order_timeout_s)
        for pump in pumps:
            stack.sim.clear(pump, PUMP_FAULT)

        # every seq up to what each device had sent when it was seen again must be stored
        after = {eq: seq for eq, (_, seq) in stack.influx.last_seq(t_restored).items()}

        def clean_audit() -> SeqAudit | None:
            rows = stack.influx.readings_since(t_fault - 300_000)
            found = audit_seqs(before, after, {eq: (s for _, s in r) for eq, r in rows.items()})
            result.audit = found
            return found if found.lost == 0 and found.duplicates == 0 else None

        wait_for(clean_audit, 30.0, interval=1.0)
        if fault.action == "kill" and fault.edges:
            building = fault.edges[0].removeprefix("edge-")
            rows = stack.influx.readings_since(t_fault - 300_000)
            silences = [
                t_fault - max((ts for ts, _ in r if ts <= t_fault), default=t_fault)
                for eq, r in rows.items()
                if eq in stack.building_equipment(building)
            ]
            result.silence_before_kill_ms = max(silences, default=None)
        if fault.action == "disk":
            result.checks_failed = disk_full_findings(stack, fault)
        if fault.action == "mail":
            result.mail = mail_findings(stack, c.mail_timeout_s)
            self.say(f"    e-mail: {result.mail.describe()}")

        def no_new_alarms() -> bool:
            return not any(a["id"] not in baseline_alarms for a in stack.cloud.active_alarms())

        cleared, clear_s = wait_for(no_new_alarms, c.alarm_clear_timeout_s, interval=1.0)
        if not cleared:
            result.alarms_stuck = sorted(
                f"{a['equipment_id']}:{a['rule_id']}"
                for a in stack.cloud.active_alarms()
                if a["id"] not in baseline_alarms
            )
        since = stack.cloud.work_orders(wo_from)
        result.orders_per_pump = {
            p: sum(1 for w in since if w["equipment_id"] == p and w["rule_id"] == PUMP_RULE)
            for p in pumps
        }
        result.other_work_orders = len(
            [w for w in since if w["equipment_id"] not in pumps and w["number"] not in stack.burst]
        )
        result.duplicate_work_orders = sorted(
            set(duplicate_work_orders(since))
            | set(duplicate_work_orders(stack.cloud.live_work_orders()))
        )
        self.say(
            f"    readings {result.audit.found}/{result.audit.expected}, lost {result.audit.lost}, "
            f"work orders {result.work_orders_raised}/{len(pumps)}, duplicates "
            f"{len(result.duplicate_work_orders)}, alarms stuck {len(result.alarms_stuck)}, "
            f"recovery {'-' if result.recovery_s is None else f'{result.recovery_s:.1f}s'}"
            + ("" if result.ok else "  FAILED")
        )
        self.say(f"    (work orders after {wo_s:.1f}s, alarms clear after {clear_s:.1f}s)")
        if result.audit.gaps:
            result.notes.append("seq gaps: " + result.audit.describe_gaps())
        result.notes.extend(result.checks_failed)
        if fault.action == "slow" and stack.proxy is not None:
            result.notes.append(f"the proxy reset the link {stack.proxy.resets} times")
        return result

    def _hold(self, stack: Stack, fault: Fault) -> None:
        """Keep the outage for its length, watching that nothing else died meanwhile."""
        end_at = time.monotonic() + fault.outage_s
        while (left := end_at - time.monotonic()) > 0:
            for child in stack.demo.children:
                if (
                    child.name not in fault.processes
                    and child.proc is not None
                    and not child.alive()
                ):
                    raise ServiceError(
                        f"{child.name} died during {fault.label}; last lines of "
                        f"{child.log_path}:\n{child.tail()}"
                    )
            time.sleep(min(left, 0.5))
