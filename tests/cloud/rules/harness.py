"""Rules written in a test, and the changes the engine reports, as plain data."""

from __future__ import annotations

from typing import Any

from cloud.rules.engine import Change
from cloud.rules.model import Rule


def rule(
    condition: dict[str, Any], rule_id: str = "pump.test", kind: str = "pump", **extra: Any
) -> Rule:
    """A major, urgent rule `rule_id` on `kind` raising on `condition`; `extra` adds fields."""
    return Rule.model_validate(
        {
            "id": rule_id,
            "kind": kind,
            "title": "Test fault",
            "condition": condition,
            "severity": "major",
            "priority": "urgent",
            **extra,
        }
    )


def changes(transitions: list[Any]) -> list[tuple[str, str, Change]]:
    """The engine's transitions as (equipment, rule, change)."""
    return [(t.equipment_id, t.rule.id, t.change) for t in transitions]
