"""Contractor teams declared in the teams file (`PLANTROOM_TEAMS_FILE`), beside its default
teams, and made so in the database at start:

    elevator: lifts                     # the default teams of the kinds (routing.py)
    contractors:
      lift-contractor:                  # the team's name
        company: Harbour Lift Services Ltd
        trade: lifts
        building: tower-a               # optional: one building (default: every building)
        contacts:                       # where its jobs are told, tried in this order
          - {channel: email, address: service@lifts.example.com}
        sign_off_required: true         # optional: its jobs resolve only once signed off
        language: zh                    # optional: its messages' language (en, zh)

A declared team is created if missing, and its trade, building and terms are set from the
file at every start (the file wins over changes made through the API meanwhile); its members
are managed through the API. A bad entry fails the start naming the file and line: a field
at load (`load_contractors`), a channel that is not configured or an in-house member when the
teams are made (`sync_contractors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import Trade
from cloud.errors import CloudError
from cloud.notify.channels import Channel
from cloud.users.contractors import MAX_COMPANY, MAX_CONTACTS, Contact, ContractorTerms, set_terms
from cloud.users.model import Team
from cloud.users.service import add_team
from plantroom.errors import ConfigError
from plantroom.yamlload import describe_error, line_of, load_yaml

SECTION = "contractors"
MAX_DECLARED = 100  # contractor teams one file may declare

TeamName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class ContactSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=256)


class ContractorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    company: str = Field(min_length=1, max_length=MAX_COMPANY)
    trade: Trade
    building: str | None = None
    contacts: list[ContactSpec] = Field(default_factory=list, max_length=MAX_CONTACTS)
    sign_off_required: bool = False
    language: Literal["en", "zh"] = "en"


class ContractorsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contractors: dict[TeamName, ContractorSpec] = Field(max_length=MAX_DECLARED)


@dataclass(frozen=True, slots=True)
class Declared:
    name: str
    spec: ContractorSpec
    where: str  # file:line of its entry


def split(data: Any) -> tuple[Any, Any]:
    """The file's default teams and its `contractors:` section (None when it has none)."""
    if isinstance(data, dict) and SECTION in data:
        rest = {k: v for k, v in data.items() if k != SECTION}
        return rest, data[SECTION]
    return data, None


def load_contractors(path: Path) -> list[Declared]:
    """The contractor teams `path` declares; ConfigError naming the line of a bad field."""
    data, lines = load_yaml(path)
    _, section = split(data)
    if section is None:
        return []
    try:
        parsed = ContractorsSection.model_validate({SECTION: section})
    except ValidationError as exc:
        raise ConfigError(describe_error(path, lines, exc)) from exc
    out = []
    for name, spec in parsed.contractors.items():
        line = line_of(lines, (SECTION, name))
        out.append(Declared(name, spec, f"{path}:{line}" if line is not None else str(path)))
    return out


def sync_contractors(
    session: Session,
    declared: list[Declared],
    *,
    channels: dict[str, Channel],
    buildings: set[str],
    now: datetime,
) -> list[Team]:
    """Make each declared team so: created if missing, its trade, building and terms set."""
    teams = []
    for item in declared:
        spec = item.spec
        try:
            if spec.building is not None and spec.building not in buildings:
                known = ", ".join(sorted(buildings)) or "none"
                raise ConfigError(
                    f"{item.where}: {SECTION}.{item.name}.building: {spec.building!r} is not "
                    f"in the inventory (known: {known})"
                )
            team = session.scalar(select(Team).where(Team.name == item.name))
            if team is None:
                team = add_team(session, item.name, spec.trade, now=now, building=spec.building)
            team.trade, team.building = spec.trade, spec.building
            terms = ContractorTerms(
                contractor=True,
                company=spec.company,
                contacts=[Contact(c.channel, c.address) for c in spec.contacts],
                sign_off_required=spec.sign_off_required,
                language=spec.language,
            )
            set_terms(session, team, terms, channels=channels, now=now)
        except CloudError as exc:
            raise ConfigError(f"{item.where}: {SECTION}.{item.name}.{exc.message}") from exc
        teams.append(team)
    return teams
