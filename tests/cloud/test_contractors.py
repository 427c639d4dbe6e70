"""Outside contractors (docs/contractors.md): a team declared as a contractor's through the
API, with its company and contact points, checked field by field; its people see only its
jobs (another team's is not found), work them, sign them off, and the in-house supervisor
closes them; a PM plan sends its visits to the contractor it names. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cloud.enums import Channel, Priority, Role, WorkOrderKind
from cloud.users.demo import ensure_demo_users, ensure_demo_visit
from cloud.users.service import add_team, get_team, get_user, set_member
from cloud.workorders import creation
from cloud.workorders.routing import use_team_defaults
from plantroom.errors import ConfigError
from tests.cloud.harness import Api, error, png, serve, settings_for
from tests.cloud.rows import equipment_row

pytestmark = pytest.mark.integration

USERS = {
    "tech1": Role.TECHNICIAN,
    "super1": Role.SUPERVISOR,
    "admin1": Role.ADMIN,
    "lift1": Role.CONTRACTOR,
    "lift2": Role.CONTRACTOR,
}
CONTRACTOR = {
    "name": "lift-contractor",
    "trade": "lifts",
    "contractor": True,
    "company": "Harbour Lift Services Ltd",
    "contacts": [
        {"channel": "email", "address": "service@lifts.example.com"},
        {"channel": "email", "address": "night@lifts.example.com"},
    ],
    "sign_off_required": True,
    "members": ["lift1"],
}
CHANNELS = (
    "channels:\n"
    "  email:\n"
    '    url: "mailtos://plantroom:secret@127.0.0.1:9?from=plantroom@example.com&to={address}"\n'
    "    style: email\n"
)


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    channels = tmp_path / "notifications.yaml"
    channels.write_text(CHANNELS, encoding="utf-8")
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        notifications_file=channels,
        notify_link_secret="k" * 32,
    )
    async with serve(settings, users=USERS) as a:
        yield a


async def declare(api: Api, **changes: Any) -> Any:
    answer = await api.post("/api/teams", "admin1", json={**CONTRACTOR, **changes})
    assert answer.status_code == 201, answer.text
    return answer.json()


def in_house(api: Api) -> None:
    """Building b2's own lift team."""
    with api.db.session() as session:
        add_team(session, "b2-lifts", "lifts", now=api.clock(), building="b2")


def job(api: Api, title: str, *, team: str | None = None, kind: WorkOrderKind | None = None) -> str:
    """A job about lift e1 (a PM visit with a checklist when `kind` is pm), on `team` if
    given (else as routed); its number."""
    with api.db.session() as session:
        creator = get_user(session, "super1")
        assert creator is not None
        wo = creation.create_work_order(
            session,
            title=title,
            kind=kind or WorkOrderKind.REQUEST,
            priority=Priority.NORMAL,
            now=api.clock(),
            sla=api.state.sla,
            channel=Channel.API,
            equipment=equipment_row(session, "e1"),
            created_by=creator,
            team=get_team(session, team) if team else None,
        )
        if kind is WorkOrderKind.PM:
            wo.checklist = [{"item": "Brake shoe clearance", "done": False, "by": None, "at": None}]
        session.flush()
        return wo.number


async def test_a_contractor_team_has_its_company_contacts_and_own_people(api: Api) -> None:
    team = await declare(api)
    assert team["contractor"] is True and team["company"] == "Harbour Lift Services Ltd"
    assert [c["address"] for c in team["contacts"]] == [
        "service@lifts.example.com",
        "night@lifts.example.com",
    ]
    assert team["sign_off_required"] is True
    assert [m["username"] for m in team["members"]] == ["lift1"]

    bad = {
        "company": (None, "company"),
        "contacts": ([{"channel": "fax", "address": "123"}], "contacts.0.channel"),
    }
    for field, (value, named) in bad.items():
        answer = await api.post(
            "/api/teams", "admin1", json={**CONTRACTOR, "name": f"bad-{field}", field: value}
        )
        assert named in error(answer, 422, "invalid_request")
    not_mail = [{"channel": "email", "address": "service.lifts.example.com"}]
    answer = await api.post(
        "/api/teams", "admin1", json={**CONTRACTOR, "name": "bad-mail", "contacts": not_mail}
    )
    assert "contacts.0.address" in error(answer, 422, "invalid_request")
    answer = await api.post(
        "/api/teams", "admin1", json={**CONTRACTOR, "name": "bad-members", "members": ["tech1"]}
    )
    assert "tech1 is a technician" in error(answer, 422, "invalid_request")
    answer = await api.client.put(
        "/api/teams/lift-contractor/members/tech1", headers=api.auth("admin1")
    )
    assert "contractor role only" in error(answer, 422, "invalid_request")
    in_house = await api.post("/api/teams", "admin1", json={"name": "b2-lifts", "trade": "lifts"})
    assert in_house.status_code == 201 and in_house.json()["contractor"] is False
    answer = await api.client.put("/api/teams/b2-lifts/members/lift2", headers=api.auth("admin1"))
    assert "in-house team" in error(answer, 422, "invalid_request")

    changed = await api.client.patch(
        "/api/teams/lift-contractor",
        headers=api.auth("admin1"),
        json={
            "contacts": [{"channel": "email", "address": "desk@lifts.example.com"}],
            "language": "zh",
        },
    )
    assert changed.status_code == 200, changed.text
    assert [c["address"] for c in changed.json()["contacts"]] == ["desk@lifts.example.com"]
    assert changed.json()["company"] == "Harbour Lift Services Ltd"  # kept: not given
    assert changed.json()["language"] == "zh"
    refused = await api.client.patch(
        "/api/teams/lift-contractor", headers=api.auth("admin1"), json={"contractor": False}
    )
    assert "lift1" in error(refused, 422, "invalid_request")  # its people are contractors


async def test_a_contractor_sees_only_its_teams_jobs(api: Api) -> None:
    await declare(api)
    ours = job(api, "Lift half-monthly visit", team="lift-contractor")
    # routed: the contractor serves every building, so takes only the jobs sent to it by name
    theirs = job(api, "Lift car light out")
    seen = (await api.get(f"/api/work-orders/{theirs}", "super1")).json()
    assert seen["team"] == "lifts"  # the default team of lifts (teams.yaml)

    listed = await api.get("/api/work-orders", "lift1")
    assert [w["number"] for w in listed.json()["items"]] == [ours]
    assert listed.json()["total"] == 1
    everyone = await api.get("/api/work-orders", "super1")
    assert {w["number"] for w in everyone.json()["items"]} == {ours, theirs}

    assert (await api.get(f"/api/work-orders/{ours}", "lift1")).status_code == 200
    for path in (
        f"/api/work-orders/{theirs}",
        f"/api/work-orders/{theirs}/audit",
        f"/api/work-orders/{theirs}/notifications",
    ):
        error(await api.get(path, "lift1"), 404, "not_found")
    hidden = await api.get("/api/notifications/outbox", "lift1", params={"work_order": theirs})
    error(hidden, 404, "not_found")
    comment = await api.post(f"/api/work-orders/{theirs}/comments", "lift1", json={"text": "hi"})
    error(comment, 404, "not_found")
    taken = await api.post(f"/api/work-orders/{theirs}/acknowledge", "lift1")
    error(taken, 404, "not_found")

    teams = await api.get("/api/teams", "lift1")
    assert [t["name"] for t in teams.json()["items"]] == ["lift-contractor"]
    error(await api.get("/api/teams/lifts", "lift1"), 404, "not_found")
    for path in ("/api/equipment", "/api/alarms", "/api/kpis", "/api/oncall", "/api/users"):
        error(await api.get(path, "lift1"), 403, "forbidden")
    asked = await api.post("/api/work-orders", "lift1", json={"title": "x", "equipment_id": "e1"})
    error(asked, 403, "forbidden")

    # lift2 is a contractor too, but in no team: no job at all
    assert (await api.get("/api/work-orders", "lift2")).json()["total"] == 0
    error(await api.get(f"/api/work-orders/{ours}", "lift2"), 404, "not_found")


async def test_a_contractor_signs_off_and_resolves_and_the_supervisor_closes(api: Api) -> None:
    await declare(api)
    number = job(api, "Lift half-monthly visit", team="lift-contractor", kind=WorkOrderKind.PM)
    detail = (await api.get(f"/api/work-orders/{number}", "lift1")).json()
    assert detail["sign_off_required"] is True  # the contractor's terms

    for action in ("acknowledge", "start"):
        done = await api.post(f"/api/work-orders/{number}/{action}", "lift1")
        assert done.status_code == 200, done.text
    ticked = await api.post(f"/api/work-orders/{number}/checklist/0", "lift1", json={"done": True})
    assert ticked.status_code == 200, ticked.text
    unsigned = await api.post(f"/api/work-orders/{number}/resolve", "lift1", json={"note": "done"})
    assert "signed off" in error(unsigned, 409, "sign_off_missing")

    signed = await api.post(
        f"/api/work-orders/{number}/sign-off",
        "lift1",
        files={"signature": ("signature.png", png(), "image/png")},
        data={"signer": "Building manager"},
    )
    assert signed.status_code == 200, signed.text
    resolved = await api.post(f"/api/work-orders/{number}/resolve", "lift1", json={"note": "done"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"  # not closed: the office verifies it

    error(await api.post(f"/api/work-orders/{number}/close", "lift1"), 403, "forbidden")
    closed = await api.post(f"/api/work-orders/{number}/close", "super1")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"


async def test_the_office_assigns_a_contractors_job_to_its_own_people_only(api: Api) -> None:
    await declare(api)
    ours = job(api, "Lift half-monthly visit", team="lift-contractor")
    theirs = job(api, "Lift car light out")
    with api.db.session() as session:
        team = get_team(session, "lift-contractor")
        lift2 = get_user(session, "lift2")
        assert lift2 is not None
        set_member(session, team, lift2, member=True)
    given = await api.post(f"/api/work-orders/{ours}/assign", "super1", json={"assignee": "lift2"})
    assert given.status_code == 200, given.text
    refused = await api.post(
        f"/api/work-orders/{theirs}/assign", "super1", json={"assignee": "lift2"}
    )
    assert "not their team's job" in error(refused, 422, "invalid_request")
    # lift1 (same company) cannot take the job given to lift2
    taken = await api.post(f"/api/work-orders/{ours}/acknowledge", "lift1")
    error(taken, 403, "not_assignee")
    assert (await api.post(f"/api/work-orders/{ours}/acknowledge", "lift2")).status_code == 200


async def test_an_in_house_team_is_not_made_a_contractors_by_accident(api: Api) -> None:
    in_house(api)
    answer = await api.client.patch(
        "/api/teams/b2-lifts", headers=api.auth("admin1"), json={"company": "Acme"}
    )
    assert "contractor: true" in error(answer, 422, "invalid_request")
    # and a contractor's team without people becomes an in-house one again, terms and all
    await declare(api, name="pump-contractor", trade="plumbing", members=[])
    again = await api.client.patch(
        "/api/teams/pump-contractor", headers=api.auth("admin1"), json={"contractor": False}
    )
    assert again.status_code == 200, again.text
    assert {k: again.json()[k] for k in ("contractor", "company", "contacts")} == {
        "contractor": False,
        "company": None,
        "contacts": [],
    }
    assert again.json()["sign_off_required"] is False


async def test_a_sites_teams_file_may_name_the_contractor_the_default(
    api: Api, tmp_path: Path
) -> None:
    await declare(api)
    teams_file = tmp_path / "teams.yaml"
    teams_file.write_text("elevator: lift-contractor\npump: plumbing\n", encoding="utf-8")
    try:
        use_team_defaults(teams_file)
        number = job(api, "Lift door slow")
        assert (await api.get(f"/api/work-orders/{number}", "lift1")).json()["team"] == (
            "lift-contractor"
        )
    finally:
        use_team_defaults(None)


async def test_the_demo_shows_a_visit_of_the_lift_contractor_at_once(api: Api) -> None:
    with api.db.session() as session:
        ensure_demo_users(session, now=api.clock(), mail_channel="email")
        assert ensure_demo_visit(session, now=api.clock(), site_zone="UTC") is not None
        assert ensure_demo_visit(session, now=api.clock(), site_zone="UTC") is None  # once
    for username, role in USERS.items():
        api.user(username, role)  # the demo gave its users new tokens
    run = await api.post("/api/pm/run", "super1")
    assert run.status_code == 200, run.text
    raised = [
        (await api.get(f"/api/work-orders/{n}", "super1")).json() for n in run.json()["raised"]
    ]
    [visit] = [wo for wo in raised if wo["team"] == "lift-contractor"]
    assert visit["equipment_id"] == "e1" and visit["title"].startswith("Lift half-monthly")
    assert (await api.get(f"/api/work-orders/{visit['number']}", "lift1")).status_code == 200
    assert visit["sign_off_required"] is True
    team = (await api.get("/api/teams/lift-contractor", "lift1")).json()
    assert team["company"] == "Harbour Lift Services Ltd"
    assert team["contacts"] == [{"channel": "email", "address": "service@lifts.demo.example.com"}]


TEAMS_FILE = """\
elevator: lifts
pump: plumbing
contractors:
  lift-contractor:
    company: Harbour Lift Services Ltd
    trade: lifts
    contacts:
      - {channel: email, address: service@lifts.example.com}
    sign_off_required: true
"""


async def test_a_teams_file_declares_contractor_teams(tmp_path: Path, database_url: str) -> None:
    channels = tmp_path / "notifications.yaml"
    channels.write_text(CHANNELS, encoding="utf-8")
    teams_file = tmp_path / "teams.yaml"
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        notifications_file=channels,
        notify_link_secret="k" * 32,
        teams_file=teams_file,
    )
    try:
        teams_file.write_text(TEAMS_FILE, encoding="utf-8")
        async with serve(settings, users={"admin1": Role.ADMIN}) as api:
            team = (await api.get("/api/teams/lift-contractor", "admin1")).json()
            assert (team["contractor"], team["company"], team["sign_off_required"]) == (
                True,
                "Harbour Lift Services Ltd",
                True,
            )
            assert team["contacts"] == [
                {"channel": "email", "address": "service@lifts.example.com"}
            ]
        # the file wins at the next start: for one building now, another address
        changed = TEAMS_FILE.replace("trade: lifts", "trade: lifts\n    building: b2").replace(
            "service@", "desk@"
        )
        teams_file.write_text(changed, encoding="utf-8")
        async with serve(settings, users={"admin1": Role.ADMIN}) as api:
            team = (await api.get("/api/teams/lift-contractor", "admin1")).json()
            assert team["building"] == "b2"
            assert [c["address"] for c in team["contacts"]] == ["desk@lifts.example.com"]

        # a bad field fails at once, naming the file and the line
        teams_file.write_text(TEAMS_FILE.replace("    trade: lifts\n", ""), encoding="utf-8")
        with pytest.raises(
            ConfigError, match=r"teams\.yaml:5: contractors\.lift-contractor\.trade"
        ):
            async with serve(settings):
                pass
        # a channel that is not configured fails the start, naming the entry
        teams_file.write_text(TEAMS_FILE.replace("channel: email", "channel: fax"), "utf-8")
        with pytest.raises(ConfigError, match=r"teams\.yaml:5: .*contacts\.0\.channel: 'fax'"):
            async with serve(settings):
                pass
    finally:
        use_team_defaults(None)
