"""Service levels: response, on-site and completion targets by priority, the dispatch
commitment, escalation stages, fault verification and the indicators' targets, loaded from
`sla.yaml` (configuration, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.enums import Priority
from cloud.rules.base import Duration
from plantroom.yamlload import validate_file

SHIPPED = Path(__file__).resolve().parent / "sla.yaml"


class Stage(StrEnum):
    """Who an escalation stage notifies (cloud.sla.recipients)."""

    ASSIGNEE = "assignee"  # the assignee, else the on-call technician, else the team
    TEAM = "team"  # the assignee and the team
    BACKUP = "backup"  # the rota's backup, else the team
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    respond: Duration
    on_site: Duration | None = None
    resolve: Duration
    escalate_every: Duration

    @model_validator(mode="after")
    def _order(self) -> Target:
        if self.respond <= 0 or self.escalate_every <= 0:
            raise ValueError("`respond` and `escalate_every` must be more than zero")
        if self.on_site is not None and not self.respond <= self.on_site <= self.resolve:
            raise ValueError("`on_site` must come between `respond` and `resolve`")
        if self.resolve < self.respond:
            raise ValueError("`resolve` must not come before `respond`")
        return self


class Targets(BaseModel):
    """The indicators' targets in percent (docs/kpis.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sla_compliance_pct: float = Field(default=99, ge=0, le=100)
    equipment_good_pct: float = Field(default=100, ge=0, le=100)
    fire_good_pct: float = Field(default=100, ge=0, le=100)
    lighting_good_pct: float = Field(default=100, ge=0, le=100)
    pm_compliance_pct: float = Field(default=100, ge=0, le=100)
    repeat_fault_pct: float = Field(default=0, ge=0, le=100)
    follow_up_pct: float = Field(default=30, ge=0, le=100)
    complaint_pct: float = Field(default=2, ge=0, le=100)  # upheld complaints per repair, at most


@dataclass(frozen=True, slots=True)
class Due:
    respond: datetime
    on_site: datetime | None
    resolve: datetime


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dispatch: Duration = 180.0
    max_promise: Duration = 7 * 86400.0
    verification: Duration = 900.0
    reopen_within: Duration = 7 * 86400.0
    priorities: dict[Priority, Target]
    escalation: tuple[Stage, ...] = (Stage.BACKUP, Stage.SUPERVISOR, Stage.MANAGER)
    targets: Targets = Targets()

    @model_validator(mode="after")
    def _every_priority(self) -> SlaPolicy:
        missing = [p.value for p in Priority if p not in self.priorities]
        if missing:
            raise ValueError(f"no target for priority {', '.join(missing)}")
        too_long = [p.value for p, t in self.priorities.items() if t.resolve > self.max_promise]
        if too_long:
            raise ValueError(
                f"`resolve` of {', '.join(too_long)} is later than `max_promise` allows"
            )
        if not self.escalation or len(set(self.escalation)) != len(self.escalation):
            raise ValueError("`escalation` must list one or more distinct stages")
        if self.dispatch <= 0 or self.verification < 0 or self.reopen_within < 0:
            raise ValueError("`dispatch` must be more than zero; durations may not be negative")
        return self

    def due(self, priority: Priority, opened: datetime) -> Due:
        """When a job opened at `opened` is to be acknowledged, on site and done."""
        target = self.priorities[priority]
        return Due(
            respond=opened + timedelta(seconds=target.respond),
            on_site=None if target.on_site is None else opened + timedelta(seconds=target.on_site),
            resolve=opened + timedelta(seconds=target.resolve),
        )

    def latest_promise(self, created: datetime) -> datetime:
        """No completion may be promised (or postponed to) later than this."""
        return created + timedelta(seconds=self.max_promise)

    def escalate_every(self, priority: Priority) -> timedelta:
        return timedelta(seconds=self.priorities[priority].escalate_every)


def load_sla(path: Path = SHIPPED) -> SlaPolicy:
    return validate_file(SlaPolicy, path)
