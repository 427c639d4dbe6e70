"""The tables of people: users, their API tokens, and teams (the technicians of one trade for
one building, or every building; or an outside contractor's, with contact points of its own
in `contact_points`, migration 0016_contractors)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.enums import Role, Trade
from cloud.orm import Base


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role]
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Messages' language (migration 0007_notify_outbox): "en" or "zh" (Simplified Chinese).
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # The person chose `language` (migration 0017_i18n_language_chosen); until they do, the
    # console follows the browser's language and records it here.
    language_chosen: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    teams: Mapped[list[Team]] = relationship(
        secondary="team_members", order_by="Team.name", viewonly=True
    )
    sites: Mapped[list[UserSite]] = relationship(
        order_by="UserSite.site", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Team(Base):
    """Technicians of one trade, for one building (or every building when `building` is NULL).
    A new job goes to the team of its building and its equipment's trade. A contractor team is
    an outside company's: its jobs are told to its own contact points, its members (role
    `contractor`) see only its jobs (docs/contractors.md)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    building: Mapped[str | None] = mapped_column(String(64), index=True)
    # Several sites in one service (migration 0018_sites): NULL serves every site.
    site: Mapped[str | None] = mapped_column(
        String(64), index=True, comment="NULL: serves every site"
    )
    trade: Mapped[Trade]
    created_at: Mapped[datetime]
    # Outside contractors (migration 0016_contractors).
    contractor: Mapped[bool] = mapped_column(default=False, server_default=false())
    company: Mapped[str | None] = mapped_column(String(128), comment="a contractor's company")
    sign_off_required: Mapped[bool] = mapped_column(
        default=False, server_default=false(), comment="its jobs resolve only once signed off"
    )
    language: Mapped[str] = mapped_column(
        String(8), default="en", server_default="en", comment="its messages': en or zh"
    )

    members: Mapped[list[User]] = relationship(secondary="team_members", order_by="User.username")


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class UserSite(Base):
    """A person's role at one site (migration 0018_sites). A person with none keeps their one
    role and sees every site (the portfolio); with some, only those sites, each with its role."""

    __tablename__ = "user_sites"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    site: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[Role]
