"""The public report without a token: the form, its checks, the photo, rate limits and the
honeypot; the tracking page's data; the report page's location lookup."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.cloud.harness import CAMERA_MAKE, camera_jpeg, error
from tests.cloud.requests.desk import desk_app, job, report, track


async def test_a_report_without_a_token_raises_a_job_for_the_right_team(tmp_path: Path) -> None:
    async with desk_app(tmp_path) as api:
        response = await report(api, "l1", place="floor 3, by the lift")
        assert response.status_code == 201, response.text
        created = response.json()
        reference = created["reference"]
        assert len(reference) >= 22
        assert created["link"].endswith(f"/track/{reference}")
        assert created["stage"] == "received"
        tracked = await track(api, reference)
        assert tracked["stage"] == "received"
        assert tracked["equipment"] == "Corridor lights"
        assert tracked["reporters"] == 1
        assert [u["kind"] for u in tracked["updates"]] == ["received"]
        assert reference in tracked["updates"][0]["text"]
        listed = (await api.get("/api/requests", "desk1")).json()["items"]
        number = listed[0]["work_order"]
        wo = await job(api, number)
        assert wo["kind"] == "request"
        assert wo["team"] == "b1-electrical"
        assert wo["equipment_id"] == "l1"


async def test_the_report_is_checked_field_by_field(tmp_path: Path) -> None:
    async with desk_app(tmp_path) as api:
        missing = await api.client.post("/api/public/requests", data={"code": "l1"})
        assert "what" in error(missing, 422, "invalid_request")
        unknown = await report(api, "nowhere")
        assert error(unknown, 422, "invalid_request").startswith("code:")
        no_contact = await report(api, "l1", phone="")
        assert error(no_contact, 422, "invalid_request").startswith("phone:")
        bad_email = await report(api, "l1", email="not-an-address")
        assert error(bad_email, 422, "invalid_request").startswith("email:")
        no_name = await report(api, "l1", name=" ")
        assert error(no_name, 422, "invalid_request").startswith("name:")
        bad_category = await report(api, "b1", category="spaceship")
        assert error(bad_category, 422, "invalid_request").startswith("category:")
        not_a_photo = await report(api, "l1", photo=b"GIF89a not really")
        assert error(not_a_photo, 422, "invalid_request").startswith("photo:")


async def test_the_contact_the_site_requires(tmp_path: Path) -> None:
    async with desk_app(tmp_path, request_contact="email", request_name_required=False) as api:
        phone_only = await report(api, "l1", name="")
        assert error(phone_only, 422, "invalid_request").startswith("email:")
        ok = await report(api, "l1", name="", phone="", email="li.wei@example.com")
        assert ok.status_code == 201, ok.text


@pytest.mark.integration  # PostgreSQL as well as SQLite
async def test_a_photo_is_kept_without_its_metadata(database_url: str, tmp_path: Path) -> None:
    async with desk_app(tmp_path, database_url) as api:
        response = await report(api, "l1", photo=camera_jpeg((2400, 1200)))
        assert response.status_code == 201, response.text
        item = (await api.get("/api/requests", "desk1")).json()["items"][0]
        assert item["has_photo"]
        photo = await api.get(f"/api/requests/{item['id']}/photo", "tech1")
        assert photo.status_code == 200
        assert photo.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(photo.content)) as kept:
            assert kept.format == "JPEG"
            assert max(kept.size) == 1600
            assert not kept.getexif()
            assert CAMERA_MAKE.encode() not in photo.content
        too_big = await report(api, "l1", photo=b"\xff" * (5 * 1024 * 1024 + 1))
        assert "more than the limit" in error(too_big, 422, "invalid_request")
        none = await api.get(f"/api/requests/{item['id'] + 1}/photo", "tech1")
        error(none, 404, "not_found")


async def test_reports_are_bounded_per_address_and_per_location(tmp_path: Path) -> None:
    limits = {"request_rate_per_address": 2, "request_rate_per_location": 3}
    async with desk_app(tmp_path, **limits) as api:
        for _ in range(2):
            assert (await report(api, "l1")).status_code == 201
        third = await report(api, "l1")
        assert "address" in error(third, 429, "too_many_requests")
        assert int(third.headers["Retry-After"]) > 0
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api.app, client=("10.0.0.2", 4000)),
            base_url="http://cloud",
        )
        async with other:
            form = {"code": "l1", "what": "dark", "name": "A", "phone": "12345678"}
            assert (await other.post("/api/public/requests", data=form)).status_code == 201
            fourth = await other.post("/api/public/requests", data=form)
            assert "location" in error(fourth, 429, "too_many_requests")
            form["code"] = "e1"
            assert (await other.post("/api/public/requests", data=form)).status_code == 201
        api.clock.advance(hours=1)
        assert (await report(api, "l1")).status_code == 201


async def test_a_filled_honeypot_is_answered_and_dropped(tmp_path: Path) -> None:
    async with desk_app(tmp_path) as api:
        bot = await report(api, "l1", website="http://spam.example")
        assert bot.status_code == 201
        assert bot.json()["reference"]
        tracked = await api.client.get(f"/api/public/requests/{bot.json()['reference']}")
        error(tracked, 404, "not_found")
        assert (await api.get("/api/requests", "desk1")).json()["total"] == 0
        stats = (await api.get("/api/desk/stats", "desk1")).json()
        assert stats["honeypot_dropped"] == 1
        assert stats["requests"] == 0


async def test_the_report_page_and_its_location_lookup(tmp_path: Path) -> None:
    async with desk_app(tmp_path) as api:
        page = await api.client.get("/report/l1")
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
        assert (await api.client.get("/track/whatever")).status_code == 200
        found = (await api.client.get("/api/public/locations/l1")).json()
        assert found["building"] == "b1"
        assert found["category"] == "lighting"
        assert found["contact"] == "phone_or_email"
        common = (await api.client.get("/api/public/locations/b2")).json()
        assert common["equipment_id"] is None
        assert common["category"] == "other"
        error(await api.client.get("/api/public/locations/zz"), 404, "not_found")
