"""Routing a new job to a team on SQLite: the building's team of the trade, else the trade's
all-buildings team, else the default team of the kind (shipped or the site's own file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.users.model import Team
from cloud.users.service import add_team
from cloud.workorders.model import WorkOrder
from cloud.workorders.routing import SHIPPED, load_team_defaults, team_defaults, use_team_defaults
from plantroom.errors import ConfigError
from tests.cloud.harness import Api, serve, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def shipped_defaults_after() -> Iterator[None]:
    yield
    use_team_defaults(None)


def teams_of_jobs(api: Api) -> dict[str, str | None]:
    """Equipment id → the name of its job's team."""
    with api.db.session() as session:
        jobs = session.scalars(select(WorkOrder)).all()
        return {str(wo.equipment_id): wo.team.name if wo.team else None for wo in jobs}


def teams(api: Api) -> dict[str, tuple[str, str | None]]:
    with api.db.session() as session:
        return {t.name: (t.trade.value, t.building) for t in session.scalars(select(Team))}


def test_the_shipped_defaults_name_a_team_per_trade() -> None:
    defaults = load_team_defaults(SHIPPED).root
    assert defaults == {
        "elevator": "lifts",
        "pump": "plumbing",
        "lighting": "electrical",
        "fire_panel": "fire",
    }


async def test_without_teams_a_job_goes_to_the_default_team_of_its_kind(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path)) as api:
        assert teams(api) == {}
        api.fault("p1", "pump.dry_run")
        api.fault("e1", "elevator.passenger_trapped")
        api.fault("p2", "pump.dry_run")
        assert teams_of_jobs(api) == {"p1": "plumbing", "e1": "lifts", "p2": "plumbing"}
        assert teams(api) == {"plumbing": ("plumbing", None), "lifts": ("lifts", None)}


async def test_a_team_of_the_trade_comes_before_the_default(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path)) as api:
        with api.db.session() as session:
            add_team(session, "b1-pumps", "plumbing", now=api.clock(), building="b1")
            add_team(session, "all-lifts", "lifts", now=api.clock())
        api.fault("p1", "pump.dry_run")
        api.fault("e1", "elevator.passenger_trapped")
        assert teams_of_jobs(api) == {"p1": "b1-pumps", "e1": "all-lifts"}
        assert set(teams(api)) == {"b1-pumps", "all-lifts"}


async def test_a_site_names_its_own_default_teams(tmp_path: Path) -> None:
    own = tmp_path / "teams.yaml"
    own.write_text("pump: mechanical\nelevator: lift-contractor\n")
    async with serve(settings_for(tmp_path, teams_file=own)) as api:
        api.fault("p1", "pump.dry_run")
        api.fault("f1", "fire_panel.fire_alarm")
        # a kind the file leaves out has no default team
        assert teams_of_jobs(api) == {"p1": "mechanical", "f1": None}
        assert teams(api) == {"mechanical": ("plumbing", None)}


def test_a_bad_teams_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "teams.yaml"
    bad.write_text("pump: mechanical\nboiler: heating\n")
    with pytest.raises(ConfigError, match=r"teams\.yaml.*'boiler' is not a kind of equipment"):
        use_team_defaults(bad)
    bad.write_text("pump: Mechanical Team\n")
    with pytest.raises(ConfigError, match="team name 'Mechanical Team'"):
        use_team_defaults(bad)
    assert team_defaults() == load_team_defaults(SHIPPED)
