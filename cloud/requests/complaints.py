"""The complaint register: a complaint about one job or about the service in general, the
person who owns it, and how it was resolved. A complaint resolved as `valid` (upheld) counts
in the complaint rate (docs/kpis.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from cloud.enums import Role
from cloud.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloud.requests.model import Complaint
from cloud.users.model import User
from cloud.users.service import get_user
from cloud.users.sites import access_of, of_sites
from cloud.workorders.model import WorkOrder

DESK = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
MAX_TEXT = 4000


def may_handle(user: User) -> None:
    if user.role not in DESK:
        allowed = ", ".join(sorted(r.value for r in DESK))
        raise Forbidden(f"the {user.role.value} role may not handle complaints ({allowed})")


def _owner(session: Session, username: str) -> User:
    owner = get_user(session, username)
    if owner is None or not owner.active:
        raise InvalidInput(f"owner: no active user {username!r}")
    if owner.role not in DESK:
        raise InvalidInput(
            f"owner: {username!r} is a {owner.role.value}; complaints are owned by dispatchers, "
            "supervisors or admins"
        )
    return owner


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field}: required")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{field}: more than {MAX_TEXT} characters")
    return text or None


def log_complaint(
    session: Session,
    *,
    user: User,
    summary: str,
    owner: str,
    now: datetime,
    work_order: WorkOrder | None = None,
    building: str | None = None,
    complainant: str | None = None,
    contact: str | None = None,
    received_at: datetime | None = None,
) -> Complaint:
    may_handle(user)
    received = received_at or now
    if received > now:
        raise InvalidInput("received_at: in the future")
    complaint = Complaint(
        received_at=received,
        work_order=work_order,
        building=work_order.building if work_order is not None else building,
        summary=_text(summary, "summary", required=True),
        complainant=(_text(complainant, "complainant", required=False) or "")[:100] or None,
        contact=(_text(contact, "contact", required=False) or "")[:254] or None,
        owner=_owner(session, owner),
        logged_by=user,
    )
    session.add(complaint)
    session.flush()
    return complaint


def resolve(
    session: Session, complaint_id: int, *, user: User, resolution: str, valid: bool, now: datetime
) -> Complaint:
    """Close a complaint: what was done, and whether it was upheld."""
    may_handle(user)
    complaint = get(session, complaint_id)
    if complaint.resolved_at is not None:
        raise Conflict(f"complaint {complaint_id} is already resolved", code="already_resolved")
    complaint.resolution = _text(resolution, "resolution", required=True)
    complaint.valid = valid
    complaint.resolved_at = now
    session.flush()
    return complaint


def get(session: Session, complaint_id: int) -> Complaint:
    sites = access_of(session).sites  # another site's complaint does not exist either
    found = session.get(Complaint, complaint_id)
    if found is None or (sites is not None and not session.scalar(select(_of(sites, found.id)))):
        raise NotFound(f"complaint {complaint_id} does not exist")
    return found


def _of(sites: frozenset[str], complaint_id: int) -> Any:
    return exists().where(Complaint.id == complaint_id, _where(sites))


def _where(sites: frozenset[str] | None) -> Any:
    """SQL: a complaint of `sites`, by its job's site or its building's."""
    return of_sites(sites, building=Complaint.building, work_order=Complaint.work_order_id)


def search(
    session: Session, *, open_only: bool, limit: int, offset: int
) -> tuple[list[Complaint], int]:
    query = select(Complaint).where(_where(access_of(session).sites))
    if open_only:
        query = query.where(Complaint.resolved_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(Complaint.id.desc()).limit(limit).offset(offset)).all()
    return list(items), total
