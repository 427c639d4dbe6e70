"""Reporters' contacts: in full for dispatchers, supervisors and admins, masked for everyone
else (requests and complaints), and erased by the desk's ticker once the retention runs out."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.enums import Role
from tests.cloud.requests.desk import desk_app, report, tick, track, work_it

pytestmark = pytest.mark.integration  # PostgreSQL as well as SQLite


async def test_contacts_are_masked_by_role_and_erased_after_the_retention(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url, request_contact_retention_days=30) as api:
        api.user("admin1", Role.ADMIN)
        created = await report(api, "l1", email="li.wei@example.com")
        reference = created.json()["reference"]
        complaint = await api.post(
            "/api/complaints",
            "desk1",
            json={
                "summary": "slow",
                "owner": "super1",
                "complainant": "Li Wei",
                "contact": "li.wei@example.com",
            },
        )
        assert complaint.status_code == 201, complaint.text
        for who in ("desk1", "super1", "admin1"):
            item = (await api.get("/api/requests", who)).json()["items"][0]
            assert (item["name"], item["phone"], item["email"]) == (
                "Li Wei",
                "+86 138 0013 8000",
                "li.wei@example.com",
            )
            assert item["reference"] == reference
            assert not item["contact_masked"]
        for who in ("tech1", "eng1"):
            item = (await api.get("/api/requests", who)).json()["items"][0]
            assert (item["name"], item["phone"], item["email"]) == (
                "L•••",
                "•••8000",
                "l•••@example.com",
            )
            assert item["reference"] is None
            assert item["contact_masked"]
            single = (await api.get(f"/api/requests/{item['id']}", who)).json()
            assert single["phone"] == "•••8000"
            listed = (await api.get("/api/complaints", who)).json()["items"][0]
            assert (listed["complainant"], listed["contact"]) == ("L•••", "l•••@example.com")
        number = (await api.get("/api/requests", "desk1")).json()["items"][0]["work_order"]
        await work_it(api, number)
        answer = await api.client.post(
            f"/api/public/requests/{reference}/answer", json={"fixed": True}
        )
        assert answer.status_code == 200
        resolved = await api.post(
            f"/api/complaints/{complaint.json()['id']}/resolve",
            "super1",
            json={"resolution": "apologised", "valid": False},
        )
        assert resolved.status_code == 200
        api.clock.advance(days=29)
        tick(api)
        assert (await api.get("/api/requests", "desk1")).json()["items"][0]["name"] == "Li Wei"
        api.clock.advance(days=1)
        tick(api)
        item = (await api.get("/api/requests", "desk1")).json()["items"][0]
        assert (item["name"], item["phone"], item["email"]) == (None, None, None)
        assert item["contact_erased"]
        listed = (await api.get("/api/complaints", "desk1")).json()["items"][0]
        assert (listed["complainant"], listed["contact"]) == (None, None)
        assert (await track(api, reference))["stage"] == "closed"  # the request itself stays
