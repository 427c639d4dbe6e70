"""Response and resolution targets by priority, loaded from `sla.yaml` (configuration, not
code)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from cloud.enums import Priority
from cloud.rules.conditions import Duration
from plantroom.yamlload import validate_file

SHIPPED = Path(__file__).resolve().parent / "sla.yaml"


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    respond: Duration
    resolve: Duration

    @model_validator(mode="after")
    def _order(self) -> Target:
        if self.resolve < self.respond:
            raise ValueError("`resolve` must not come before `respond`")
        return self


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    priorities: dict[Priority, Target]

    @model_validator(mode="after")
    def _every_priority(self) -> SlaPolicy:
        missing = [p.value for p in Priority if p not in self.priorities]
        if missing:
            raise ValueError(f"no target for priority {', '.join(missing)}")
        return self

    def due(self, priority: Priority, created: datetime) -> tuple[datetime, datetime]:
        """Respond-by and resolve-by for a work order created at `created`."""
        target = self.priorities[priority]
        return (
            created + timedelta(seconds=target.respond),
            created + timedelta(seconds=target.resolve),
        )


def load_sla(path: Path = SHIPPED) -> SlaPolicy:
    return validate_file(SlaPolicy, path)
