"""The monthly report's service desk figures: the month's reports and calls, how reporters
answered "fixed?", complaints received, and follow-up calls made (docs/requests.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.requests.model import (
    CONFIRMED,
    NOT_FIXED,
    UNCONFIRMED,
    Complaint,
    FollowUp,
    RepairRequest,
)
from cloud.workorders.model import WorkOrder


@dataclass(frozen=True, slots=True)
class DeskSummary:
    reports: int  # from the public page
    calls: int  # logged by the service desk
    merged: int  # joined a job already open
    confirmed: int
    not_fixed: int
    unconfirmed: int
    complaints: int
    upheld: int
    complaints_open: int
    follow_ups_reached: int
    follow_ups_not_reached: int


def desk_summary(
    session: Session, *, building: kpi.Buildings, start: datetime, end: datetime
) -> DeskSummary:
    """Requests and complaints received in `[start, end)`, follow-up calls recorded in it."""

    def count(model: Any, *where: Any) -> int:
        query = select(func.count(model.id)).where(*where)
        if building is not None:
            query = query.where(kpi.of_buildings(model.building, building))
        return session.scalar(query) or 0

    requests = (RepairRequest.created_at >= start, RepairRequest.created_at < end)
    complaints = (Complaint.received_at >= start, Complaint.received_at < end)
    calls = select(FollowUp.reached, func.count(FollowUp.id)).where(
        FollowUp.recorded_at >= start, FollowUp.recorded_at < end
    )
    if building is not None:
        calls = calls.join(WorkOrder, WorkOrder.id == FollowUp.work_order_id).where(
            kpi.of_buildings(WorkOrder.building, building)
        )
    reached: dict[bool | None, int] = {
        outcome: n for outcome, n in session.execute(calls.group_by(FollowUp.reached))
    }
    return DeskSummary(
        reports=count(RepairRequest, *requests, RepairRequest.source == "public"),
        calls=count(RepairRequest, *requests, RepairRequest.source == "desk"),
        merged=count(RepairRequest, *requests, RepairRequest.merged.is_(True)),
        confirmed=count(RepairRequest, *requests, RepairRequest.confirmation == CONFIRMED),
        not_fixed=count(RepairRequest, *requests, RepairRequest.confirmation == NOT_FIXED),
        unconfirmed=count(RepairRequest, *requests, RepairRequest.confirmation == UNCONFIRMED),
        complaints=count(Complaint, *complaints),
        upheld=count(Complaint, *complaints, Complaint.valid.is_(True)),
        complaints_open=count(Complaint, *complaints, Complaint.resolved_at.is_(None)),
        follow_ups_reached=reached.get(True, 0),
        follow_ups_not_reached=reached.get(False, 0),
    )


def desk_counts(d: DeskSummary) -> tuple[int, ...]:
    """The report's service desk figures, in `desk_columns` order."""
    return (
        d.reports, d.calls, d.merged, d.confirmed, d.not_fixed, d.unconfirmed,
        d.complaints, d.upheld, d.complaints_open, d.follow_ups_reached, d.follow_ups_not_reached,
    )  # fmt: skip
