"""The cluster's tables: one lease per site and one heartbeat per live cloud process
(migration 0019_cluster_site_leases)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.orm import Base

MAX_PROCESS_ID = 128


class SiteLease(Base):
    """Who evaluates a site's rules, until when. `epoch` counts the hand-overs: a holder's
    batch commits only while the row still names it with the epoch it acquired (the fence)."""

    __tablename__ = "site_leases"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(
        String(MAX_PROCESS_ID), comment="the process holding the lease; NULL once released"
    )
    epoch: Mapped[int] = mapped_column(BigInteger, comment="+1 at each acquisition")
    acquired_at: Mapped[datetime | None]
    renewed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(comment="free to take after this")


class ClusterMember(Base):
    """A cloud process taking part in the leases, alive until `expires_at` unless it beats
    again: the count of these is what a fair share is a share of."""

    __tablename__ = "cluster_members"

    process_id: Mapped[str] = mapped_column(String(MAX_PROCESS_ID), primary_key=True)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
