"""Loading a job to change it: the answer to an action shows its whole trail, its attachments
and its photos when it has them, and empty lists when it has none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.enums import Role
from cloud.workorders.load import load_for_change
from cloud.workorders.model import WorkOrderPhoto
from tests.cloud.harness import Api, serve, settings_for


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), users={"tech1": Role.TECHNICIAN}) as a:
        yield a


async def test_an_action_answers_with_the_jobs_trail_attachments_and_photos(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    api.fault("p2", "pump.dry_run")
    r = await api.post(
        "/api/work-orders/1/attachments",
        json={"url": "https://files.example/valve.jpg", "name": "valve.jpg"},
    )
    assert r.status_code == 201, r.text
    with api.db.session() as session:
        wo = load_for_change(session, 1)
        wo.photos.append(
            WorkOrderPhoto(
                kind="photo",
                path="WO-000001/a.jpg",
                thumb_path="WO-000001/a-thumb.jpg",
                content_type="image/jpeg",
                width=4,
                height=3,
                size=12,
                sha256="0" * 64,
                added_by="tech1",
                added_at=api.clock(),
            )
        )

    done = (await api.post("/api/work-orders/1/acknowledge", who="tech1")).json()
    assert [a["name"] for a in done["attachments"]] == ["valve.jpg"]
    assert [p["kind"] for p in done["photos"]] == ["photo"]
    assert [e["action"] for e in done["events"]][-2:] == ["attachment", "acknowledge"]

    other = (await api.post("/api/work-orders/2/acknowledge", who="tech1")).json()
    assert other["attachments"] == [] and other["photos"] == []
    assert [e["action"] for e in other["events"]][-1] == "acknowledge"


async def test_a_job_that_does_not_exist_is_not_found(api: Api) -> None:
    r = await api.post("/api/work-orders/99/acknowledge", who="tech1")
    assert r.status_code == 404 and "work order 99 does not exist" in r.text
