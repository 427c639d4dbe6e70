"""`plantroom oncall …` against the API served by uvicorn on loopback: who is on call, a
team's rota, an override and a swap by a supervisor, and a technician refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.enums import Role
from cloud.oncall.cli import oncall_app
from cloud.oncall.schemas import RotaIn
from cloud.oncall.service import set_rota
from cloud.state import AppState
from cloud.users.service import add_team, add_user, issue_token, set_member
from tests.cloud.harness import Clock, over_http, run_cli, settings_for

pytestmark = pytest.mark.integration

TEAM = "b1-plumbing"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    app = create_app(
        settings_for(tmp_path), clock=Clock(), ingest=False, escalate=False, notify=False
    )
    with over_http(app) as (host, port):
        state: AppState = app.state.cloud
        tokens = {}
        with state.database().session() as session:
            now = state.clock()
            team = add_team(session, TEAM, "plumbing", now=now, building="b1")
            for name, role in (
                ("tech1", Role.TECHNICIAN),
                ("tech2", Role.TECHNICIAN),
                ("super1", Role.SUPERVISOR),
            ):
                user = add_user(session, name, role, now=now)
                set_member(session, team, user, member=True)
                tokens[name] = issue_token(session, user, now=now)
            spec = RotaIn(starts_on=date(2026, 3, 1), rotation="daily", members=["tech1", "tech2"])
            set_rota(session, team, spec, now=now, site_zone="Europe/London")
        yield f"http://{host}:{port}", tokens


def oncall(served: tuple[str, dict[str, str]], who: str, *args: str) -> tuple[int, str]:
    url, tokens = served
    result = run_cli(oncall_app, "oncall", url, tokens[who], *args)
    return result.exit_code, result.output


def test_who_is_on_call_the_rota_an_override_and_a_swap(
    served: tuple[str, dict[str, str]],
) -> None:
    code, out = oncall(served, "tech1", "now", "--building", "b1")
    assert code == 0, out
    line = next(x for x in out.splitlines() if x.startswith(TEAM)).split()
    assert line[1:5] == ["tech1", "tech2", "super1", "-"]  # no admin: no manager
    code, out = oncall(served, "tech1", "show", TEAM, "--count", "3")
    assert code == 0, out
    assert "daily, hand-over 08:00 Europe/London" in out and "tech1, tech2" in out
    assert "2026-03-02 08:00 → 2026-03-03 08:00  tech2" in out

    cover = (
        "override",
        TEAM,
        "tech2",
        "--from",
        "2026-03-01T09:00Z",
        "--until",
        "2026-03-01T10:00Z",
    )
    code, out = oncall(served, "tech1", *cover)
    assert code == 1 and "the technician role may not do this" in out
    code, out = oncall(served, "super1", *cover, "--note", "tech1 at the dentist")
    assert code == 0 and "tech2 on call 2026-03-01 09:00 → 2026-03-01 10:00 UTC" in out
    code, out = oncall(served, "tech1", "now", "--team", TEAM, "--at", "2026-03-01T09:30:00Z")
    assert out.splitlines()[1].split()[1] == "tech2"

    code, out = oncall(served, "super1", "swap", TEAM, "2026-03-02T12:00Z", "2026-03-03T12:00Z")
    assert code == 0, out
    assert "tech1 on call 2026-03-02 08:00" in out and "tech2 on call 2026-03-03 08:00" in out
    code, out = oncall(served, "tech1", "show", TEAM)
    assert "override #1: tech2" in out and "(tech1 at the dentist)" in out
    assert "swap #2: tech1" in out and "swap #3: tech2" in out
    code, out = oncall(served, "tech1", "show", "nope")
    assert code == 1 and "team 'nope' does not exist (HTTP 404 not_found)" in out
