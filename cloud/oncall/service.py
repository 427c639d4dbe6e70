"""Who is on call, and the rotas and covers supervisors set.

`on_call(session, team, at)` answers for one team at one instant: the person on duty (a cover
first, else the rotation), the backup, the supervisor and the manager. The supervisor is the
rota's own, else the team's member with the supervisor role, else the site's first
supervisor; the manager is the rota's own, else the site's first admin. Inactive people are
never on call: the rotation's person who has left gives way to the backup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.enums import Role
from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.oncall import rota as arith
from cloud.oncall.hours import Hours, clock_time
from cloud.oncall.model import CoverKind, Rota, RotaCover, Routine
from cloud.oncall.schemas import CoverIn, RotaIn, SwapIn
from cloud.users.model import Team, User
from cloud.users.service import require_user

MAX_COVER = timedelta(days=31)  # one override or swapped shift at most
MAX_AHEAD = timedelta(days=366)  # covers start no later than this from now
MAX_OPEN_COVERS = 200  # covers of one rota not yet over
MAX_SHIFTS = 60  # shifts listed at once
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # instants asked about or set: this century
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who answers for `team` at `at`; `rota` None: the team has none (nobody is on call, but
    the supervisor and manager are still found)."""

    team: Team
    at: datetime
    primary: User | None
    backup: User | None
    supervisor: User | None
    manager: User | None
    rota: Rota | None = None
    shift: arith.Shift | None = None
    cover: RotaCover | None = None


def plan_of(rota: Rota) -> arith.Plan:
    return arith.Plan(
        members=tuple(int(m) for m in rota.members),
        rotation=arith.Rotation(rota.rotation),
        handover=clock_time(rota.handover, field="handover"),
        zone=ZoneInfo(rota.timezone),
        starts_on=rota.starts_on,
        backup=rota.backup_id,
    )


def hours_of(rota: Rota) -> Hours:
    return Hours.of(rota.hours_start, rota.hours_end, rota.work_days, ZoneInfo(rota.timezone))


def rota_of(session: Session, team: Team) -> Rota | None:
    return session.scalar(select(Rota).where(Rota.team_id == team.id))


def require_rota(session: Session, team: Team) -> Rota:
    found = rota_of(session, team)
    if found is None:
        raise NotFound(f"team {team.name!r} has no rota")
    return found


def _first(session: Session, role: Role) -> User | None:
    return session.scalar(
        select(User).where(User.role == role, User.active.is_(True)).order_by(User.username)
    )


def _active(user: User | None) -> User | None:
    return user if user is not None and user.active else None


def supervisor_of(session: Session, team: Team | None, rota: Rota | None) -> User | None:
    own = _active(rota.supervisor) if rota is not None else None
    if own is not None:
        return own
    members = team.members if team is not None else []
    in_team = [u for u in members if u.role is Role.SUPERVISOR and u.active]
    return in_team[0] if in_team else _first(session, Role.SUPERVISOR)


def manager_of(session: Session, rota: Rota | None) -> User | None:
    own = _active(rota.manager) if rota is not None else None
    return own or _first(session, Role.ADMIN)


def _covers(session: Session, rota: Rota, at: datetime) -> list[RotaCover]:
    return list(
        session.scalars(
            select(RotaCover).where(
                RotaCover.rota_id == rota.id, RotaCover.starts_at <= at, RotaCover.ends_at > at
            )
        )
    )


def on_call(session: Session, team: Team, at: datetime) -> OnCall:
    """Who is on call for `team` at `at` (see the module)."""
    rota = rota_of(session, team)
    supervisor = supervisor_of(session, team, rota)
    manager = manager_of(session, rota)
    if rota is None:
        return OnCall(team, at, None, None, supervisor, manager)
    rows = _covers(session, rota, at)
    covers = [arith.Cover(c.user_id, c.starts_at, c.ends_at, c.id) for c in rows]
    duty = arith.duty(plan_of(rota), covers, at)
    primary = _active(session.get(User, duty.primary)) if duty.primary is not None else None
    backup = _active(session.get(User, duty.backup)) if duty.backup is not None else None
    if primary is None and backup is not None:  # the rotation's person has left
        primary, backup = backup, None
    cover = next((c for c in rows if duty.cover is not None and c.id == duty.cover.seq), None)
    return OnCall(team, at, primary, backup, supervisor, manager, rota, duty.shift, cover)


def shifts(rota: Rota, at: datetime, count: int) -> list[arith.Shift]:
    """The shift under way at `at` and the `count - 1` after it."""
    if not 1 <= count <= MAX_SHIFTS:
        raise InvalidInput(f"count: from 1 to {MAX_SHIFTS} shifts")
    plan = plan_of(rota)
    first = arith.shift_index(plan, at)
    return [arith.shift(plan, first + n) for n in range(count)]


def open_covers(session: Session, rota: Rota, now: datetime) -> list[RotaCover]:
    return list(
        session.scalars(
            select(RotaCover)
            .where(RotaCover.rota_id == rota.id, RotaCover.ends_at > now)
            .order_by(RotaCover.starts_at, RotaCover.id)
            .limit(MAX_OPEN_COVERS)
        )
    )


# -- changes ------------------------------------------------------------------------------------


def _named(session: Session, username: str | None, field: str) -> User | None:
    if username is None:
        return None
    try:
        user = require_user(session, username)
    except NotFound as exc:
        raise InvalidInput(f"{field}: {exc.message}") from exc
    if not user.active:
        raise InvalidInput(f"{field}: user {username!r} is not active")
    return user


def set_rota(session: Session, team: Team, spec: RotaIn, *, now: datetime, site_zone: str) -> Rota:
    """Give `team` the rota `spec` (replacing its own; its covers stay)."""
    members = [_named(session, name, "members") for name in spec.members]
    found = rota_of(session, team)
    rota = found or Rota(team_id=team.id, created_at=now)
    rota.rotation = spec.rotation.value
    rota.handover = spec.handover
    rota.timezone = spec.timezone or site_zone
    rota.starts_on = spec.starts_on
    rota.members = [u.id for u in members if u is not None]
    rota.backup = _named(session, spec.backup, "backup")
    rota.supervisor = _named(session, spec.supervisor, "supervisor")
    rota.manager = _named(session, spec.manager, "manager")
    rota.routine = spec.routine.value
    rota.hours_start, rota.hours_end = spec.hours_start, spec.hours_end
    rota.work_days = sorted(set(spec.work_days))
    rota.digest_at = spec.digest_at
    rota.updated_at = now
    if found is None:
        session.add(rota)
    session.flush()
    return rota


def instant(value: datetime, field: str) -> datetime:
    """An instant given to the service, in UTC: with a zone, from 2000 to 2099."""
    if value.tzinfo is None:
        raise InvalidInput(f"{field}: give a time zone (e.g. 2026-03-03T18:00:00Z)")
    refused = InvalidInput(f"{field}: {value.isoformat()} is not between 2000 and 2099")
    try:
        found = value.astimezone(UTC)
    except OverflowError:
        raise refused from None
    if not EARLIEST <= found < LATEST:
        raise refused
    return found


def _bounded(session: Session, rota: Rota, starts: datetime, ends: datetime, now: datetime) -> None:
    if ends <= starts:
        raise InvalidInput("ends_at: must come after starts_at")
    if ends - starts > MAX_COVER:
        raise InvalidInput(f"ends_at: a cover lasts at most {MAX_COVER.days} days")
    if ends <= now:
        raise InvalidInput("ends_at: the cover would be over already")
    if starts > now + MAX_AHEAD:
        raise InvalidInput(f"starts_at: at most {MAX_AHEAD.days} days ahead")
    count = session.scalar(
        select(func.count())
        .select_from(RotaCover)
        .where(RotaCover.rota_id == rota.id, RotaCover.ends_at > now)
    )
    if (count or 0) + 1 > MAX_OPEN_COVERS:
        raise Conflict(
            f"team rota has {MAX_OPEN_COVERS} covers not yet over; remove some first",
            code="too_many_covers",
        )


def add_override(
    session: Session, rota: Rota, spec: CoverIn, *, by: User, now: datetime
) -> RotaCover:
    """`spec.user` covers the range: set last, it comes before every other cover in it."""
    starts, ends = instant(spec.starts_at, "starts_at"), instant(spec.ends_at, "ends_at")
    _bounded(session, rota, starts, ends, now)
    user = _named(session, spec.user, "user")
    assert user is not None
    cover = RotaCover(
        rota_id=rota.id,
        kind=CoverKind.OVERRIDE.value,
        user_id=user.id,
        starts_at=starts,
        ends_at=ends,
        note=spec.note,
        created_by_id=by.id,
        created_at=now,
    )
    session.add(cover)
    session.flush()
    return cover


def swap(session: Session, team: Team, spec: SwapIn, *, by: User, now: datetime) -> list[RotaCover]:
    """The people on duty at `first` and `second` exchange those two shifts (two covers)."""
    first, second = instant(spec.first, "first"), instant(spec.second, "second")
    a, b = on_call(session, team, first), on_call(session, team, second)
    if a.shift is None or b.shift is None or a.rota is None:
        raise NotFound(f"team {team.name!r} has no rota")
    if a.shift.index == b.shift.index:
        raise InvalidInput("second: falls in the same shift as first")
    if a.primary is None or b.primary is None or a.primary.id == b.primary.id:
        raise InvalidInput("second: a swap needs two different people on duty")
    rows = []
    for shift, user in ((a.shift, b.primary), (b.shift, a.primary)):
        starts = max(shift.starts_at, now)
        _bounded(session, a.rota, starts, shift.ends_at, now)
        row = RotaCover(
            rota_id=a.rota.id,
            kind=CoverKind.SWAP.value,
            user_id=user.id,
            starts_at=starts,
            ends_at=shift.ends_at,
            note=spec.note,
            created_by_id=by.id,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    rows[0].pair_id, rows[1].pair_id = rows[1].id, rows[0].id
    session.flush()
    return rows


def delete_cover(session: Session, rota: Rota, cover_id: int) -> None:
    """Remove a cover; a swap's other half goes with it."""
    cover = session.get(RotaCover, cover_id)
    if cover is None or cover.rota_id != rota.id:
        raise NotFound(f"cover {cover_id} is not in this team's rota")
    pair = session.get(RotaCover, cover.pair_id) if cover.pair_id is not None else None
    for row in (cover, pair):
        if row is not None:
            session.delete(row)
    session.flush()


def routine_of(rota: Rota | None) -> Routine:
    return Routine(rota.routine) if rota is not None else Routine.ALWAYS
