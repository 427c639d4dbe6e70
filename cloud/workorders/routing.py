"""Which team a new job goes to.

A job goes to its building's team of its equipment's trade, else to an in-house team of that
trade serving every building (an outside contractor's team for every building takes only the
jobs sent to it by name: a PM plan's `team:`, or an assignment; a contractor's team for one
building is that building's team of its trade). When neither exists the job goes to the
default team of its kind of equipment, named in `teams.yaml` (shipped: `lifts`, `plumbing`,
`electrical`, `fire`; a site's own file with `PLANTROOM_TEAMS_FILE`), created serving every
building, with the trade of the kind, the first time a job needs it.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

from pydantic import RootModel, ValidationError, field_validator
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from cloud.enums import TRADE_OF_KIND
from cloud.users.model import Team
from cloud.users.service import USERNAME, add_team
from cloud.workorders.teamsfile import split
from plantroom.errors import ConfigError
from plantroom.yamlload import describe_error, load_yaml

SHIPPED = Path(__file__).with_name("teams.yaml")


class TeamDefaults(RootModel[dict[str, str]]):
    """Kind of equipment → the name of its default team."""

    @field_validator("root")
    @classmethod
    def _known(cls, mapping: dict[str, str]) -> dict[str, str]:
        for kind, team in mapping.items():
            if kind not in TRADE_OF_KIND:
                known = ", ".join(sorted(TRADE_OF_KIND))
                raise ValueError(f"{kind!r} is not a kind of equipment (known: {known})")
            if not USERNAME.match(team):
                raise ValueError(
                    f"{kind}: team name {team!r}: use 1-64 lower-case letters, digits, "
                    "'_', '.', '-'"
                )
        return mapping

    def team_for(self, kind: str | None) -> str | None:
        return self.root.get(kind or "")


@functools.cache
def load_team_defaults(path: Path = SHIPPED) -> TeamDefaults:
    """The default teams of `path` (a bad file fails naming its line); the contractor teams
    it may also declare are `cloud.workorders.teamsfile`'s."""
    data, lines = load_yaml(path)
    defaults, _ = split(data)
    try:
        return TeamDefaults.model_validate(defaults)
    except ValidationError as exc:
        raise ConfigError(describe_error(path, lines, exc)) from exc


_configured: list[TeamDefaults] = []


def use_team_defaults(path: Path | None) -> TeamDefaults:
    """Route this process's jobs with the defaults of `path` (None: the shipped ones)."""
    defaults = load_team_defaults(path or SHIPPED)
    _configured[:] = [defaults]
    return defaults


def team_defaults() -> TeamDefaults:
    return _configured[0] if _configured else load_team_defaults()


# built once (every new job is routed): the team of the building and trade, else an in-house
# team of the trade serving every building; a job of no building (None) matches any team
# serving every building, as `building IS NULL` does
_ROUTED = (
    select(Team)
    .where(
        Team.trade == bindparam("b_trade"),
        or_(
            Team.building.is_not_distinct_from(bindparam("b_building")),
            and_(Team.building.is_(None), Team.contractor.is_(False)),
        ),
    )
    .order_by(Team.building.is_(None), Team.id)
    .limit(1)
)


def route_team(
    session: Session, building: str | None, equipment_kind: str | None, *, now: datetime
) -> Team | None:
    """The team a job goes to (see the module's docstring); None for a job of no equipment."""
    trade = TRADE_OF_KIND.get(equipment_kind or "")
    if trade is None:
        return None
    found = session.scalar(_ROUTED, {"b_trade": trade, "b_building": building})
    if found is not None:
        return found
    name = team_defaults().team_for(equipment_kind)
    if name is None:
        return None
    named = session.scalar(select(Team).where(Team.name == name))
    return named if named is not None else add_team(session, name, trade, now=now)
