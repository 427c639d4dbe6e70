"""What the campaign injects and what it found: faults, campaign sizes, per-fault results.

A fault names the processes it hits and how:

* `kill` — SIGKILL every named process, start each again after the outage;
* `cut` — the suite's proxy drops the named edge agent's broker link for the outage;
* `slow` — the proxy delays and resets that link instead (`chaos.proxy.Degradation`);
* `disk` — the named buffers' file systems fill up while the edge link is cut and InfluxDB
  is down (`chaos.disk`), and get their space back at the restore;
* `postgres` — SIGKILL the PostgreSQL server under the cloud, start it again;
* `mail` — ask the cloud for a burst of jobs, SIGKILL it once their e-mail is under way,
  start it again, and account for every message (`chaos.mail`).

Each named process gets a pump fault of its own during the outage: an edge agent one in its
own building, any other process one in a building the fault does not hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chaos.audit import SeqAudit
from chaos.mail import MailAudit
from chaos.proxy import Degradation
from plantroom.settings import EdgeSettings

COMMIT_INTERVAL_S: float = EdgeSettings.model_fields["edge_commit_interval_s"].default
POLL_INTERVAL_S: float = EdgeSettings.model_fields["edge_poll_interval_s"].default

Action = Literal["kill", "cut", "slow", "disk", "postgres", "mail"]


@dataclass(frozen=True)
class Fault:
    processes: tuple[str, ...]
    action: Action
    outage_s: float
    jobs: int = 0  # `mail`: the jobs asked for in the burst

    @property
    def edges(self) -> list[str]:
        return [p for p in self.processes if p.startswith("edge-")]

    @property
    def label(self) -> str:
        names = " + ".join(self.processes)
        if self.action == "kill":
            return f"kill -9 {names}"
        if self.action == "cut":
            return f"cut {names} ↔ broker"
        if self.action == "slow":
            return f"slow, lossy {names} ↔ broker"
        if self.action == "disk":
            return f"full disk under {names} buffers"
        if self.action == "mail":
            return f"kill -9 {names} during a burst of {self.jobs} jobs' e-mail"
        return "kill -9 postgres (cloud on PostgreSQL)"


@dataclass(frozen=True)
class ChaosConfig:
    buildings: int
    per_kind: int
    kill_outage_s: float
    cut_outage_s: float
    slow_s: float
    disk_outage_s: float
    link: Degradation
    settle_timeout_s: float = 120.0
    recovery_timeout_s: float = 180.0
    work_order_timeout_s: float = 60.0
    alarm_clear_timeout_s: float = 180.0
    pg_per_kind: int = 2
    mail_jobs: int = 40
    mail_timeout_s: float = 180.0
    """How long every message of the e-mail burst may take to end sent or failed (a row left
    `sending` by the killed cloud is settled 3 send timeouts after it was claimed)."""
    disk_case: bool = True
    """The full-disk case; the reduced campaign leaves it to the buffers' own full-disk tests
    (tests/edge/ and tests/gateway/test_buffer_full_disk.py), which take seconds rather than half a
    minute."""

    @property
    def devices(self) -> int:
        return self.buildings * self.per_kind * 4

    def faults(self, edge: str) -> list[Fault]:
        kill = self.kill_outage_s
        return [
            Fault(("mosquitto",), "kill", kill),
            Fault(("influxd",), "kill", kill),
            Fault(("gateway",), "kill", kill),
            Fault((edge,), "kill", kill),
            Fault(("cloud",), "kill", kill),
            Fault((edge,), "cut", self.cut_outage_s),
            Fault((edge,), "slow", self.slow_s),
            Fault(("gateway", edge), "kill", kill),
            Fault(("cloud", edge), "kill", kill),
            Fault(("cloud",), "mail", kill, jobs=self.mail_jobs),
            *([Fault((edge, "gateway"), "disk", self.disk_outage_s)] if self.disk_case else []),
        ]

    def postgres_faults(self) -> list[Fault]:
        return [Fault(("postgres",), "postgres", self.kill_outage_s)]


FULL = ChaosConfig(
    buildings=4,
    per_kind=20,
    kill_outage_s=20.0,
    cut_outage_s=150.0,
    slow_s=60.0,
    disk_outage_s=30.0,
    link=Degradation(latency_s=0.2, jitter_s=0.3, reset_every_s=(5.0, 15.0)),
)
REDUCED = ChaosConfig(
    buildings=2,
    per_kind=6,  # 11 pump faults, each on a pump of its own
    kill_outage_s=3.0,
    cut_outage_s=8.0,
    slow_s=6.0,
    disk_outage_s=5.0,
    link=Degradation(latency_s=0.2, jitter_s=0.3, reset_every_s=(2.0, 4.0)),
    settle_timeout_s=60.0,
    recovery_timeout_s=40.0,
    work_order_timeout_s=30.0,
    alarm_clear_timeout_s=30.0,
    pg_per_kind=1,
    mail_jobs=8,
    mail_timeout_s=90.0,
    disk_case=False,
)


@dataclass
class FaultResult:
    fault: Fault
    pumps: list[str]
    audit: SeqAudit
    recovery_s: float | None
    orders_per_pump: dict[str, int] = field(default_factory=dict)
    duplicate_work_orders: list[str] = field(default_factory=list)
    alarms_stuck: list[str] = field(default_factory=list)
    other_work_orders: int = 0
    silence_before_kill_ms: int | None = None
    checks_failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    mail: MailAudit | None = None

    @property
    def faults_injected(self) -> int:
        return len(self.pumps)

    @property
    def work_orders_raised(self) -> int:
        return sum(self.orders_per_pump.values())

    @property
    def missed_faults(self) -> int:
        return sum(1 for p in self.pumps if not self.orders_per_pump.get(p))

    @property
    def ok(self) -> bool:
        if self.skipped is not None:
            return True
        return (
            self.recovery_s is not None
            and self.audit.lost == 0
            and self.audit.duplicates == 0
            and self.missed_faults == 0
            and all(self.orders_per_pump.get(p) == 1 for p in self.pumps)
            and not self.duplicate_work_orders
            and not self.alarms_stuck
            and not self.checks_failed
            and self.within_commit_window
            and (self.mail is None or self.mail.ok)
        )

    @property
    def within_commit_window(self) -> bool:
        if self.silence_before_kill_ms is None:
            return True
        return self.silence_before_kill_ms <= commit_window_ms()


def commit_window_ms() -> int:
    """What a killed edge agent may lose: the commit interval plus the poll in progress."""
    return int((COMMIT_INTERVAL_S + 2 * POLL_INTERVAL_S) * 1000)
