"""Fault rules: what the service watches for, and reloading the rule files without a restart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.deps import CurrentUser, app_attribute, require
from cloud.enums import Priority, Role, Severity
from cloud.errors import InvalidInput
from cloud.rules.model import Rule
from cloud.rules.service import RulesService
from cloud.schemas import OutModel
from cloud.users.model import User
from plantroom.errors import ConfigError

router = APIRouter(prefix="/rules", tags=["rules"], responses=AUTH_RESPONSES)

EngineerUser = Annotated[User, Depends(require(Role.ENGINEER, Role.ADMIN))]


RulesDep = Annotated[RulesService, app_attribute(RulesService, "rules_service")]


class RuleOut(OutModel):
    id: str
    kind: str
    title: str
    description: str | None
    condition: dict[str, Any]
    when: dict[str, Any] | None
    clear_when: dict[str, Any] | None
    for_s: float
    clear_for_s: float
    severity: Severity
    priority: Priority
    outage: str | None
    source: str | None

    @classmethod
    def of(cls, rule: Rule, source: str | None) -> RuleOut:
        def dump(part: Any) -> dict[str, Any] | None:
            if part is None:
                return None
            data: dict[str, Any] = part.model_dump(mode="json", by_alias=True, exclude_none=True)
            return data

        return cls(
            id=rule.id,
            kind=rule.kind.value,
            title=rule.title,
            description=rule.description,
            condition=dump(rule.condition) or {},
            when=dump(rule.when),
            clear_when=dump(rule.clear_when),
            for_s=rule.for_,
            clear_for_s=rule.clear_for,
            severity=rule.severity,
            priority=rule.priority,
            outage=rule.outage,
            source=source,
        )


class OutageOut(OutModel):
    enabled: bool
    min_devices: int
    window_s: float


class RuleListOut(OutModel):
    rules: list[RuleOut]
    outage: OutageOut
    loaded_at: datetime
    reloads: int
    last_error: str | None


class ReloadOut(OutModel):
    rules: int
    added: list[str]
    removed: list[str]
    changed: list[str]
    cleared_alarms: int
    raised_alarms: int


@router.get("", response_model=RuleListOut)
def list_rules(service: RulesDep, user: CurrentUser) -> RuleListOut:
    current = service.current
    return RuleListOut(
        rules=[RuleOut.of(r, current.sources.get(r.id)) for r in current.rules],
        outage=OutageOut(
            enabled=current.outage.enabled,
            min_devices=current.outage.min_devices,
            window_s=current.outage.window,
        ),
        loaded_at=service.loaded_at,
        reloads=service.reloads,
        last_error=service.last_error,
    )


@router.post(
    "/reload",
    response_model=ReloadOut,
    responses=errors(
        {
            403: "only engineers and admins reload rules",
            422: "a rule file is invalid; nothing changed",
        }
    ),
)
async def reload_rules(service: RulesDep, user: EngineerUser) -> ReloadOut:
    """Read the rule files again and use them at once. If one is invalid nothing changes and
    the answer names the file, line, rule and field."""
    try:
        result = await service.reload()
    except ConfigError as exc:
        raise InvalidInput(str(exc), code="invalid_rules") from exc
    return ReloadOut(
        rules=result.rules,
        added=result.added,
        removed=result.removed,
        changed=result.changed,
        cleared_alarms=result.cleared_alarms,
        raised_alarms=result.raised_alarms,
    )
