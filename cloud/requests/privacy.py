"""Reporters' contact details: shown in full only to the service desk (dispatchers,
supervisors and admins), masked for everyone else, and erased once the request's job has
been over for the retention period (or, for a request with no job, that long after it came
in); complaints' contacts the same, counted from their resolution."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cloud.enums import Role
from cloud.requests.model import Complaint, RepairRequest

CONTACT_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
HIDDEN = "•••"


def sees_contact(role: Role) -> bool:
    return role in CONTACT_ROLES


def mask_phone(phone: str | None) -> str | None:
    """`+86 138 0013 8000` → `•••8000`: the last four digits, enough to tell calls apart."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    return HIDDEN + "".join(digits[-4:]) if len(digits) >= 8 else HIDDEN


def mask_email(email: str | None) -> str | None:
    """`li.wei@example.com` → `l•••@example.com`."""
    if not email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}{HIDDEN}@{domain}"


def mask_name(name: str | None) -> str | None:
    """`Li Wei` → `L•••`."""
    return f"{name[:1]}{HIDDEN}" if name else name


def erase_expired(session: Session, *, now: datetime, retention: timedelta) -> int:
    """Erase the contacts whose retention has run out; the number of records erased."""
    before = now - retention
    requests = list(
        session.scalars(
            select(RepairRequest.id).where(
                RepairRequest.contact_erased_at.is_(None),
                or_(
                    RepairRequest.done_at <= before,
                    RepairRequest.work_order_id.is_(None) & (RepairRequest.created_at <= before),
                ),
            )
        )
    )
    if requests:
        session.execute(
            update(RepairRequest)
            .where(RepairRequest.id.in_(requests))
            .values(
                reporter_name=None,
                reporter_phone=None,
                reporter_email=None,
                contact_erased_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    ids = list(
        session.scalars(
            select(Complaint.id).where(
                Complaint.resolved_at <= before,
                or_(Complaint.complainant.is_not(None), Complaint.contact.is_not(None)),
            )
        )
    )
    if ids:
        session.execute(
            update(Complaint)
            .where(Complaint.id.in_(ids))
            .values(complainant=None, contact=None)
            .execution_options(synchronize_session=False)
        )
    return len(requests) + len(ids)
