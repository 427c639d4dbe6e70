"""The demo's teams get an on-call rota: the technicians in turn, a day each, with the demo
supervisor and admin as supervisor and manager; a second start (a day later) keeps it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cloud.app import create_app
from tests.cloud.harness import Clock, settings_for

pytestmark = pytest.mark.integration


async def test_the_demo_teams_have_a_rota(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, demo_mode=True)
    clock = Clock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # a Wednesday; rota from Monday
    for primary, backup in (("tech1", "tech2"), ("tech2", "tech1")):
        app = create_app(settings, clock=clock, ingest=False, escalate=False, notify=False)
        async with app.router.lifespan_context(app):
            tokens = {u["username"]: u["token"] for u in _users(settings.demo_credentials_path)}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
                r = await client.get(
                    "/api/oncall",
                    params={"building": "b1"},
                    headers={"Authorization": f"Bearer {tokens['tech1']}"},
                )
        assert r.status_code == 200, r.text
        (plumbing,) = [t for t in r.json() if t["team"] == "b1-plumbing"]
        assert plumbing["has_rota"] is True
        # Monday tech1, Tuesday tech2, Wednesday (from 08:00) tech1, Thursday tech2
        assert plumbing["primary"]["username"] == primary
        assert plumbing["backup"]["username"] == backup
        assert plumbing["supervisor"]["username"] == "super1"
        assert plumbing["manager"]["username"] == "admin1"
        assert plumbing["within_hours"] is True
        clock.advance(days=1)


def _users(path: Path) -> list[dict[str, str]]:
    users: list[dict[str, str]] = json.loads(path.read_text())["users"]
    return users
