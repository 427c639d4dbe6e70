"""What the maintenance-window tests share: the app's maintenance runner, a fault applied as
the monitor applies it (held by the runner's board), and a window set through the API."""

from __future__ import annotations

from typing import Any

from cloud import faults
from cloud.incidents.service import IncidentManager
from cloud.maintenance.runner import MaintenanceRunner
from cloud.rules.engine import Change, Transition
from cloud.rules.loader import load_rules
from cloud.rules.model import OutagePolicy
from tests.cloud.harness import Api
from tests.cloud.rows import equipment_row

REASON = "Seal replacement, pump isolated"


def runner(api: Api) -> MaintenanceRunner:
    """The app's maintenance runner."""
    assert api.state.maintenance is not None
    return api.state.maintenance


def fault(api: Api, equipment_id: str, rule_id: str, *, clear: bool = False) -> None:
    """The rule's transition on the equipment, applied as the monitor applies it."""
    rules = load_rules()
    rule = next(r for r in rules if r.id == rule_id)
    change = Change.CLEARED if clear else Change.RAISED
    now = api.clock()
    transition = Transition(
        rule, equipment_id, change, now.timestamp(), {"dry_run": not clear}, rule.title
    )
    with api.db.session() as session:
        equipment = equipment_row(session, equipment_id)
        assert equipment is not None
        faults.apply(
            session,
            transition,
            equipment=equipment,
            now=now,
            sla=api.state.sla,
            incidents=IncidentManager(OutagePolicy(), rules, site="s1"),
            held=runner(api).board,
        )


async def start(
    api: Api, equipment_id: str = "p1", minutes: int = 10, **extra: Any
) -> dict[str, Any]:
    """A window of `minutes` on `equipment_id` set by super1 (201): the window."""
    r = await api.post(
        "/api/maintenance",
        who="super1",
        json={"equipment_id": equipment_id, "minutes": minutes, "reason": REASON, **extra},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
