"""Actions applied once: a client's id for each action, the `Idempotency-Key` header.

A change sent with a key (a UUID, say) is recorded with it in the job's audit trail; sent
again with the same key it is not applied again, and the answer is the job (or the comment,
or the photo) as it is now. A device that queued actions while offline can therefore send
them again without fear. A key used for another job is `409 action_id_reused`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header
from sqlalchemy.orm import Session

from cloud.workorders.audit import AlreadyApplied, applying
from cloud.workorders.model import WorkOrderEvent

ActionId = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the client's id of this action: sent again, it is applied once",
    ),
]
T = TypeVar("T")


def once(
    session: Session, key: str | None, run: Callable[[], T], replay: Callable[[WorkOrderEvent], T]
) -> T:
    """`run` the change as the client's action `key`, or, if that was applied before,
    `replay` the answer from the event that recorded it."""
    applying(session, key)
    try:
        return run()
    except AlreadyApplied as done:
        return replay(done.event)
    finally:
        applying(session, None)
