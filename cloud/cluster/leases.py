"""Site leases in the database: acquire, renew, release and the fence, each one atomic
statement, and the cluster's view of who holds what.

Every change is a single `UPDATE … WHERE` whose condition is the rule, so two processes racing
for a site cannot both win: PostgreSQL takes the row lock, re-checks the condition on the row
the other committed, and one of them updates nothing.

    acquire   holder IS NULL OR expires_at < now OR holder = me     → holder = me, epoch + 1
    renew     holder = me AND epoch = mine                          → expires_at = now + ttl
    release   holder = me AND epoch = mine                          → holder = NULL
    fence     holder = me AND epoch = mine, the row locked until the batch commits

Times come from the database's clock on PostgreSQL, so the processes' own clocks may differ;
on SQLite (one process) from this process's clock. Functions take the caller's session and
commit nothing themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.cluster.model import ClusterMember, SiteLease

FORGET_MEMBERS_AFTER = timedelta(hours=1)  # a dead process's heartbeat row is deleted then


class LeaseLost(Exception):
    """This process no longer holds the lease it worked under: what it was doing must not
    commit."""

    def __init__(self, site: str, epoch: int) -> None:
        super().__init__(f"the lease of site {site!r} (epoch {epoch}) is no longer held")
        self.site = site
        self.epoch = epoch


@dataclass(frozen=True, slots=True)
class Lease:
    site: str
    holder: str | None
    epoch: int
    expires_at: datetime
    renewed_at: datetime | None = None

    def held(self, now: datetime) -> bool:
        return self.holder is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class ClusterView:
    """The leases and the live processes, as read at `now` (the database's time)."""

    now: datetime
    leases: tuple[Lease, ...]
    members: tuple[str, ...]  # alive, sorted


def db_now(session: Session) -> datetime:
    """The database's time on PostgreSQL (one clock for every process), else this one's."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(text("SELECT clock_timestamp()"))
        if isinstance(value, datetime):
            return value.astimezone(UTC)
    return datetime.now(UTC)


def ensure_sites(session: Session, sites: Iterable[str], *, now: datetime) -> None:
    """A lease row for each site that has none yet: free, as if released `now`."""
    wanted = set(sites)
    known = set(session.scalars(select(SiteLease.site).where(SiteLease.site.in_(wanted))))
    for site in sorted(wanted - known):
        try:
            with session.begin_nested():  # another process may add it at the same moment
                session.add(SiteLease(site=site, holder=None, epoch=0, expires_at=now))
        except IntegrityError:
            continue


def beat(session: Session, process_id: str, *, now: datetime, ttl: timedelta) -> None:
    """This process is alive until now + ttl; heartbeat rows dead for long are forgotten."""
    updated = session.execute(
        update(ClusterMember)
        .where(ClusterMember.process_id == process_id)
        .values(seen_at=now, expires_at=now + ttl)
    ).rowcount  # type: ignore[attr-defined]
    if not updated:
        session.add(
            ClusterMember(process_id=process_id, started_at=now, seen_at=now, expires_at=now + ttl)
        )
    session.execute(
        delete(ClusterMember).where(ClusterMember.expires_at < now - FORGET_MEMBERS_AFTER)
    )


def leave(session: Session, process_id: str) -> None:
    session.execute(delete(ClusterMember).where(ClusterMember.process_id == process_id))


def view(session: Session, *, now: datetime) -> ClusterView:
    leases = tuple(
        Lease(r.site, r.holder, r.epoch, r.expires_at, r.renewed_at)
        for r in session.scalars(select(SiteLease).order_by(SiteLease.site))
    )
    members = tuple(
        session.scalars(
            select(ClusterMember.process_id)
            .where(ClusterMember.expires_at > now)
            .order_by(ClusterMember.process_id)
        )
    )
    return ClusterView(now=now, leases=leases, members=members)


def acquire(
    session: Session, site: str, process_id: str, *, now: datetime, ttl: timedelta
) -> int | None:
    """Take the site's lease if it is free, expired or already this process's: its new epoch,
    or None when another process holds it."""
    row = session.execute(
        update(SiteLease)
        .where(
            SiteLease.site == site,
            or_(
                SiteLease.holder.is_(None),
                SiteLease.expires_at < now,
                SiteLease.holder == process_id,
            ),
        )
        .values(
            holder=process_id,
            epoch=SiteLease.epoch + 1,
            acquired_at=now,
            renewed_at=now,
            expires_at=now + ttl,
        )
        .returning(SiteLease.epoch)
    ).first()
    return None if row is None else int(row[0])


def renew(
    session: Session, site: str, process_id: str, epoch: int, *, now: datetime, ttl: timedelta
) -> bool:
    """Extend the lease held under `epoch`; False when it was taken (or released) meanwhile.
    A lease that expired but that no one took is still this process's: nobody else has
    evaluated the site since."""
    updated = session.execute(
        update(SiteLease)
        .where(SiteLease.site == site, SiteLease.holder == process_id, SiteLease.epoch == epoch)
        .values(renewed_at=now, expires_at=now + ttl)
    ).rowcount  # type: ignore[attr-defined]
    return bool(updated)


def release(session: Session, site: str, process_id: str, epoch: int, *, now: datetime) -> bool:
    """Give the lease up at once, so another process need not wait for it to expire."""
    updated = session.execute(
        update(SiteLease)
        .where(SiteLease.site == site, SiteLease.holder == process_id, SiteLease.epoch == epoch)
        .values(holder=None, expires_at=now)
    ).rowcount  # type: ignore[attr-defined]
    return bool(updated)


def fence(session: Session, site: str, process_id: str, epoch: int) -> None:
    """Raise LeaseLost unless the lease is still this process's under `epoch`; on PostgreSQL
    the row stays locked until the session's transaction ends, so a process taking the site
    over waits for this transaction and then sees everything it committed."""
    holder = session.execute(
        select(SiteLease.holder, SiteLease.epoch).where(SiteLease.site == site).with_for_update()
    ).first()
    if holder is None or holder[0] != process_id or int(holder[1]) != epoch:
        raise LeaseLost(site, epoch)
