"""Starting and ending each kind of fault on a running stack (chaos/faults.py lists them)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from chaos import mail
from chaos.audit import Cloud, Influx
from chaos.disk import Tmpfs
from chaos.faults import ChaosConfig, Fault
from chaos.proxy import LinkProxy
from plantroom.errors import ServiceError
from simulators.control import ControlClient
from stack.demo import Demo

EDGE_HEADROOM_BYTES = 96 * 1024  # the restarted agent's shared-memory index and first commits
EDGE_FULL_LOG = "database or disk is full"
GATEWAY_FULL_LOG = "holding the batch unacknowledged"
POSTGRES_RESTART_S = 60.0


@dataclass
class Stack:
    """One running stack and the handles the campaign drives it with."""

    demo: Demo
    influx: Influx
    cloud: Cloud
    sim: ControlClient
    equipment: set[str]
    pumps: dict[str, list[str]]
    proxy: LinkProxy | None = None
    disks: dict[str, Tmpfs] = field(default_factory=dict)  # process → its buffer's tmpfs
    used_pumps: set[str] = field(default_factory=set)
    burst: list[str] = field(default_factory=list)  # the e-mail burst's job numbers

    def building_equipment(self, building: str) -> set[str]:
        for b in self.demo.inventory.buildings:
            if b.id == building:
                return {e.id for e in b.equipment}
        return set()

    def link(self) -> LinkProxy:
        if self.proxy is None:
            raise ServiceError("this stack has no link proxy")
        return self.proxy

    def pumps_for(self, fault: Fault) -> list[str]:
        """One unused pump per process: an agent's in its building, others' far away."""
        hit = {p.removeprefix("edge-") for p in fault.edges}
        chosen: list[str] = []
        for process in fault.processes:
            if process.startswith("edge-"):
                pool = self.pumps[process.removeprefix("edge-")]
            else:
                pool = [p for b, ps in reversed(self.pumps.items()) if b not in hit for p in ps]
            pump = next((p for p in pool if p not in self.used_pumps), None)
            if pump is None:
                raise ServiceError(
                    f"no unused pump left for {process} in {fault.label}: the site needs "
                    "more pumps per building for this many faults"
                )
            self.used_pumps.add(pump)
            chosen.append(pump)
        return chosen


def begin(stack: Stack, fault: Fault, config: ChaosConfig) -> None:
    if fault.action == "kill":
        for process in fault.processes:
            stack.demo.kill(process)
    elif fault.action == "cut":
        stack.link().cut()
    elif fault.action == "slow":
        stack.link().degrade(config.link)
    elif fault.action == "disk":
        fill_disks(stack, fault)
    elif fault.action == "mail":
        start_burst(stack, fault.jobs)
        stack.demo.kill("cloud")
    else:
        kill_postmaster(stack.demo)


def end(stack: Stack, fault: Fault) -> None:
    if fault.action in ("kill", "mail"):
        for process in fault.processes:
            stack.demo.restart(process)
    elif fault.action in ("cut", "slow"):
        stack.link().restore()
    elif fault.action == "disk":
        for disk in stack.disks.values():
            disk.drain()
        stack.link().restore()
        stack.demo.restart("influxd")
    else:
        restart_postgres(stack.demo)


def fill_disks(stack: Stack, fault: Fault) -> None:
    """Cut the agent's link and stop InfluxDB, so both buffers must grow, and fill both disks.

    The agent is restarted cleanly on its nearly full disk first: SQLite then starts a new
    write-ahead log, which has to grow at once (a long-running agent reuses the space of
    its old log for a while before it needs more).
    """
    edge = fault.edges[0]
    stack.link().cut()
    stack.demo.child(edge).stop()
    stack.disks[edge].fill(leave_bytes=EDGE_HEADROOM_BYTES)
    stack.demo.restart(edge)
    stack.demo.kill("influxd")
    stack.disks["gateway"].fill()


def disk_full_findings(stack: Stack, fault: Fault) -> list[str]:
    """What the full-disk case could not find: each process's log line naming the condition."""
    missing: list[str] = []
    wanted = {fault.edges[0]: EDGE_FULL_LOG, "gateway": GATEWAY_FULL_LOG}
    for name, line in wanted.items():
        log = stack.demo.child(name).log_path
        if line not in log.read_text(errors="replace"):
            missing.append(f"{name} never logged {line!r} ({log})")
    return missing


def kill_postmaster(demo: Demo) -> None:
    """SIGKILL the PostgreSQL server under the cloud (the postmaster, not a wrapper)."""
    if demo.postgres is None:
        raise ServiceError("this stack runs no PostgreSQL")
    demo.kill("postgres")


def restart_postgres(demo: Demo) -> None:
    """Start PostgreSQL again; its old backends may hold the shared memory for a moment."""
    deadline = time.monotonic() + POSTGRES_RESTART_S
    while True:
        try:
            demo.restart("postgres")
            return
        except ServiceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


MAIL_LABEL = "Chaos burst"
BURST_START_S = 60.0


def start_burst(stack: Stack, jobs: int) -> None:
    """Ask the cloud for `jobs` jobs and return once a quarter of their e-mail (at least one
    message) has reached the demo's SMTP server: the rest is still to be sent."""
    box = stack.demo.mailbox
    building = stack.demo.inventory.buildings[0].id
    token = stack.cloud.token_source()
    stack.burst = mail.burst(stack.demo.api_url, token, jobs, building=building, label=MAIL_LABEL)

    def arrived() -> int:
        return sum(1 for m in box.received() if MAIL_LABEL in str(m["Subject"] or ""))

    deadline = time.monotonic() + BURST_START_S
    while arrived() < max(1, jobs // 4):
        if time.monotonic() > deadline:
            raise ServiceError(f"the burst's first e-mail did not arrive in {BURST_START_S:.0f}s")
        time.sleep(0.01)


def mail_findings(stack: Stack, timeout_s: float) -> mail.MailAudit:
    """Once every outbox row of the burst is sent or failed (or `timeout_s` passed): each row
    against the messages the SMTP server received for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            rows = mail.outbox_rows(stack.demo.api_url, stack.cloud.token_source(), stack.burst)
        except ServiceError:
            rows = []  # the cloud is still starting
        if (rows and mail.settled(rows)) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    ids = {int(r["id"]) for r in rows}
    received = mail.received_keys(stack.demo.mailbox.received())
    return mail.audit_mail(rows, Counter({i: n for i, n in received.items() if i in ids}))
