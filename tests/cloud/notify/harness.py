"""What the notifier's tests send: a work-order event as it leaves the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloud.notify.events import Outgoing

AT = datetime(2026, 11, 2, 9, 30, 15, 250000, tzinfo=UTC)


def outgoing(action: str = "created", event_id: int = 7, **wo: Any) -> Outgoing:
    facts = {
        "id": 1,
        "number": "WO-000001",
        "title": "Pump running dry: Pump 1 (p1)",
        "kind": "fault",
        "priority": "urgent",
        "status": "open",
        "building": "b1",
        "equipment_id": "p1",
    } | wo
    return Outgoing(
        event_id=event_id,
        at=AT,
        action=action,
        actor="system" if action == "created" else "tech1",
        channel="system" if action == "created" else "cli",
        from_status=None,
        to_status="open",
        note="dry run, suction tank low" if action == "resolve" else None,
        details=None,
        site="s1",
        work_order=facts,
    )
