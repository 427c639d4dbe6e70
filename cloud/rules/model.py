"""A fault rule: which kind of equipment it watches, its condition, how long the condition
must hold (`for`) and must be gone (`clear_for`), and what the alarm and work order carry.

Optional parts:
- `when`: the rule is judged only while this holds (e.g. a pump's vibration only while it
  runs); otherwise nothing changes, as with an unknown value.
- `clear_when`: once active, the alarm clears when this holds, instead of when the condition
  stops holding (a clear condition of its own, beyond a threshold's hysteresis).
- `outage`: `comm_loss` for rules that see lost communication and `power_loss` for rules
  that see equipment running on battery; many of them in one building at once are folded
  into one incident (`cloud/incidents/`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.enums import Priority, Severity
from cloud.rules.base import Duration
from cloud.rules.conditions import Condition
from plantroom.kinds import Kind

RuleId = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$", max_length=128)
]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: RuleId = Field(description="`<kind>.<name>`, e.g. pump.dry_run")
    kind: Kind
    title: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
    description: str | None = None
    condition: Condition
    for_: Duration = Field(default=0.0, alias="for", description="how long before it raises")
    clear_for: Duration = Field(default=0.0, description="how long gone before it clears")
    severity: Severity
    priority: Priority
    enabled: bool = True
    when: Condition | None = Field(default=None, description="judge the rule only while true")
    clear_when: Condition | None = Field(
        default=None, description="once active, clear when this is true"
    )
    outage: Literal["comm_loss", "power_loss"] | None = Field(
        default=None, description="folded into a building incident when many go at once"
    )

    def conditions(self) -> list[Condition]:
        """Every condition of the rule: the condition, `when` and `clear_when`."""
        return [c for c in (self.condition, self.when, self.clear_when) if c is not None]

    def history_points(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for condition in self.conditions():
            for point, window in condition.history_points().items():
                out[point] = max(window, out.get(point, 0.0))
        return out

    def counter_points(self) -> frozenset[str]:
        return frozenset().union(*(c.counter_points() for c in self.conditions()))

    def time_dependent(self) -> bool:
        return any(c.time_dependent() for c in self.conditions())

    @model_validator(mode="after")
    def _id_names_kind(self) -> Rule:
        if not self.id.startswith(f"{self.kind.value}."):
            raise ValueError(
                f"rule id {self.id!r} must start with its kind: {self.kind.value}.<name>"
            )
        return self


class OutagePolicy(BaseModel):
    """When a building counts as having lost its power or its network: `min_devices` or more
    of its devices lost (status offline or stale, or a `comm_loss` rule active) within
    `window` of each other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_devices: int = Field(default=4, ge=2, le=10_000)
    window: Duration = Field(default=300.0, gt=0)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule] = Field(default_factory=list)
    outage: OutagePolicy | None = None
