"""The equipment registry's table, and the rule engine's saved state for each piece of
equipment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKeyConstraint, String, true
from sqlalchemy.orm import Mapped, mapped_column

from cloud.enums import EquipmentStatus
from cloud.orm import Base


def key(site: str, equipment_id: str) -> str:
    """The service-wide key of a piece of equipment, as the rule engine, the intake and
    the records' one-open-job keys know it: `site/id` (neither may contain a `/`)."""
    return f"{site}/{equipment_id}"


def split(equipment_key: str) -> tuple[str, str]:
    """(site, equipment id) of a `key`."""
    site, _, equipment_id = equipment_key.partition("/")
    return site, equipment_id


def to_equipment(table: str) -> ForeignKeyConstraint:
    """A table's reference to its equipment: (site, equipment_id) → equipment (site, id)."""
    return ForeignKeyConstraint(
        ["site", "equipment_id"],
        ["equipment.site", "equipment.id"],
        name=f"fk_{table}_site_equipment",
    )


class Equipment(Base):
    """One piece of equipment: from the inventory, with what telemetry last said about it, or
    a register-only asset (`connected` false, cloud.assets); either with its register fields.
    `in_inventory` is false once it is retired (gone from the inventory, or retired from the
    register)."""

    __tablename__ = "equipment"

    # An id is unique within its site (migration 0023_sitekeys): two sites may each have a
    # `pump-a1`. The site comes first in the key, as lists are read per site.
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    building: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    floor: Mapped[str | None] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(128))
    profile: Mapped[str] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]]
    in_inventory: Mapped[bool] = mapped_column(default=True)
    status: Mapped[EquipmentStatus] = mapped_column(default=EquipmentStatus.UNKNOWN)
    status_changed_at: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    last_ts: Mapped[datetime | None] = mapped_column(comment="edge time of the last sample")
    last_seq: Mapped[int | None] = mapped_column(BigInteger)  # migration 0005: seq to 2^63-1
    last_values: Mapped[dict[str, Any]]
    # the asset register (migration 0014): connected = has telemetry, from the inventory
    connected: Mapped[bool] = mapped_column(default=True, server_default=true())
    make: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    serial: Mapped[str | None] = mapped_column(String(128))
    install_date: Mapped[date | None]
    warranty_end: Mapped[date | None]
    supplier: Mapped[str | None] = mapped_column(String(128))
    documents: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)


class RuleState(Base):
    """The rule engine's timers for one piece of equipment, so that pending `for` durations
    survive a restart; its history is in `RuleHistory` (a row saved before migration 0018 may
    still hold it, under `history`). See `cloud.rulestore`."""

    __tablename__ = "rule_states"
    __table_args__ = (to_equipment("rule_states"),)

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    equipment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]]
    saved_at: Mapped[datetime]


class RuleHistory(Base):
    """A part of the history one point of one piece of equipment keeps for its rate, trend and
    counter conditions: up to a few dozen (time, value) samples, oldest first. The parts of a
    point, in the order of `part`, are its history; all but the last are never rewritten, so
    saving history writes only what is new (see `cloud.rulestore`)."""

    __tablename__ = "rule_history"
    __table_args__ = (to_equipment("rule_history"),)

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    equipment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    point: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[int] = mapped_column(primary_key=True)
    samples: Mapped[list[list[float]]] = mapped_column(JSON)
