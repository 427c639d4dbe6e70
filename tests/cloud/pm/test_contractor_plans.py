"""A PM plan's `team:`: its visits go to the team it names (an outside contractor's, whose
terms make them need a signature), or are routed as usual when no team of that name exists;
the shipped lift plans name the lift contractor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.pm.loader import load_plans
from cloud.users.service import add_team
from plantroom.errors import ConfigError
from tests.cloud.pm.harness import Site, write

PLANS = """plans:
  - id: pump.test_contractor
    kind: pump
    match: {system: sump}
    title: Sump pump service by the contractor
    every: 1w
    lead: 1d
    team: pump-contractor
    checklist: [Impeller, Seals]
  - id: pump.test_nobody
    kind: pump
    match: {system: sump}
    title: Sump pump visit by a team not set up
    every: 1w
    lead: 1d
    team: gone-contractor
    checklist: [Float switch]
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    found = Site(tmp_path, PLANS)
    with found.db.session() as session:
        team = add_team(session, "pump-contractor", "plumbing", now=found.clock())
        team.contractor, team.company, team.sign_off_required = True, "Acme Pumps", True
    yield found
    found.close()


def test_a_plan_sends_its_visits_to_the_team_it_names(site: Site) -> None:
    assert site.run() == []  # the first day: scheduled a week on
    site.clock.advance(days=6)  # the lead reached: one day before the first due date
    assert len(site.run()) == 2
    with site.db.sessions() as session:
        jobs = {wo.pm_plan_id: wo for wo in site.work_orders()}
        contractor = jobs["pump.test_contractor"]
        session.add(contractor)
        assert contractor.team is not None and contractor.team.name == "pump-contractor"
        assert contractor.sign_off_required  # the contractor's terms, not the plan's
        nobody = jobs["pump.test_nobody"]
        session.add(nobody)
        assert nobody.team is not None and nobody.team.name == "plumbing"  # routed as usual
        assert not nobody.sign_off_required


def test_the_shipped_lift_visits_name_the_lift_contractor() -> None:
    plans = {p.id: p.plan for p in load_plans()}
    assert plans["elevator.routine_maintenance"].team == "lift-contractor"
    assert plans["elevator.routine_maintenance"].sign_off == "required"
    assert plans["elevator.daily_patrol"].team is None  # the building's own staff


def test_a_team_name_that_cannot_be_one_names_its_line(tmp_path: Path) -> None:
    write(tmp_path / "pm", "site.yaml", PLANS.replace("team: pump-contractor", "team: Pump Co!"))
    with pytest.raises(ConfigError, match=r"site\.yaml:\d+.*team"):
        load_plans(tmp_path / "pm")
