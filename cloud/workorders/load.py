"""Loading a work order to change it: its row locked, with what its answer shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cloud.errors import existing
from cloud.workorders.model import WorkOrder, WorkOrderAttachment, WorkOrderEvent, WorkOrderPhoto

# Built once: a statement made anew for every change costs more to build and to key for
# SQLAlchemy's compiled-statement cache than the database takes to run it. The row says whether
# the job has attachments and photos: most have none, and their empty collections are then set
# without a query. The collections are read by plain queries: cheaper than eager loading's.
_FOR_CHANGE = (
    select(
        WorkOrder,
        exists().where(WorkOrderAttachment.work_order_id == WorkOrder.id),
        exists().where(WorkOrderPhoto.work_order_id == WorkOrder.id),
    )
    .where(WorkOrder.id == bindparam("work_order_id"))
    .with_for_update(of=WorkOrder)
)


def _children(model: type[WorkOrderEvent | WorkOrderAttachment | WorkOrderPhoto]) -> Any:
    return select(model).where(model.work_order_id == bindparam("work_order_id")).order_by(model.id)


_EVENTS, _ATTACHMENTS, _PHOTOS = (
    _children(m) for m in (WorkOrderEvent, WorkOrderAttachment, WorkOrderPhoto)
)


def load_for_change(session: Session, work_order_id: int) -> WorkOrder:
    """The work order with its audit trail, attachments and photos (what its answer shows),
    its row locked for the rest of the transaction (FOR UPDATE, where the database has it;
    SQLite has one writer at a time)."""
    params = {"work_order_id": work_order_id}
    row = session.execute(_FOR_CHANGE, params).first()
    wo, has_attachments, has_photos = existing(row, f"work order {work_order_id}")
    unloaded = inspect(wo).unloaded  # collections this session already holds stay as they are
    for name, query, has_any in (
        ("events", _EVENTS, True),
        ("attachments", _ATTACHMENTS, has_attachments),
        ("photos", _PHOTOS, has_photos),
    ):
        if name in unloaded:
            set_committed_value(wo, name, list(session.scalars(query, params)) if has_any else [])
    return wo
