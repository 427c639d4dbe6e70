"""A fault rule: which kind of equipment it watches, its condition, how long the condition
must hold (`for`) and must be gone (`clear_for`), and what the alarm and work order carry."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.enums import Priority, Severity
from cloud.rules.conditions import Condition, Duration
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

    @model_validator(mode="after")
    def _id_names_kind(self) -> Rule:
        if not self.id.startswith(f"{self.kind.value}."):
            raise ValueError(
                f"rule id {self.id!r} must start with its kind: {self.kind.value}.<name>"
            )
        return self


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule] = Field(default_factory=list)
