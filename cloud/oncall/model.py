"""The tables of on-call duty: a rota per team, and the covers (overrides and swaps) a
supervisor sets over it (migration 0009_oncall_rota)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.orm import Base
from cloud.users.model import Team, User


class Routine(StrEnum):
    """When a team hears of its normal and low jobs."""

    ALWAYS = "always"  # at once, at any hour
    HOURS = "hours"  # within working hours; raised outside them, held until they start
    DIGEST = "digest"  # once a day, at `digest_at`, one message listing them


class CoverKind(StrEnum):
    OVERRIDE = "override"
    SWAP = "swap"


class Rota(Base):
    """A team's rota: who is on call, in turn, and when the team hears of routine jobs."""

    __tablename__ = "oncall_rotas"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    rotation: Mapped[str] = mapped_column(String(8), comment="daily or weekly")
    handover: Mapped[str] = mapped_column(String(5), comment="HH:MM, local time")
    timezone: Mapped[str] = mapped_column(String(64), comment="IANA zone, the site's by default")
    starts_on: Mapped[date] = mapped_column(Date, comment="the first member's shift starts then")
    members: Mapped[list[Any]] = mapped_column(JSON, comment="user ids, in turn")
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    routine: Mapped[str] = mapped_column(String(8), comment="always, hours or digest")
    hours_start: Mapped[str] = mapped_column(String(5))
    hours_end: Mapped[str] = mapped_column(String(5))
    work_days: Mapped[list[Any]] = mapped_column(JSON, comment="ISO weekdays, 1 = Monday")
    digest_at: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    team: Mapped[Team] = relationship()
    backup: Mapped[User | None] = relationship(foreign_keys=[backup_id])
    supervisor: Mapped[User | None] = relationship(foreign_keys=[supervisor_id])
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])


class RotaCover(Base):
    """One person on call instead of the rotation's for a time range: an override, or one half
    of a swap (`pair_id` names the other half)."""

    __tablename__ = "oncall_covers"
    __table_args__ = (Index("ix_oncall_covers_rota_id_ends_at", "rota_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rota_id: Mapped[int] = mapped_column(ForeignKey("oncall_rotas.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), comment="override or swap")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    pair_id: Mapped[int | None] = mapped_column(Integer, comment="a swap's other half")
    note: Mapped[str | None] = mapped_column(String(256))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
