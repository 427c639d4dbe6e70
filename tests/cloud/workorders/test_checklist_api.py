"""A PM job worked through the API on SQLite and PostgreSQL: steps with readings, an
out-of-limit reading raising its follow-up job, resolve refused with the steps missing and
without sign-off, photos checked by content and stripped of their location, and every action
applied once however often it is sent."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from tests.cloud.harness import (
    CAMERA_MAKE,
    GPS_IFD,
    STAFF,
    Api,
    camera_jpeg,
    error,
    lift_visit,
    lift_visit_started,
    png,
    serve,
    settings_for,
    step,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    settings = settings_for(
        tmp_path, database_url=database_url, data_dir=tmp_path / "data", photo_max_bytes=200_000
    )
    async with serve(settings, users=STAFF) as a:
        yield a


async def test_a_lift_visit_worked_step_by_step(api: Api) -> None:
    wo = await lift_visit_started(api)
    detail = (await api.get(f"/api/work-orders/{wo}")).json()
    items = [s["item"] for s in detail["checklist"]]
    brake = items.index("Brake shoe clearance, the widest point")
    assert detail["checklist"][brake]["reading"] == {
        "unit": "mm",
        "min": 0.1,
        "max": 0.7,
        "follow_up": True,
    }
    assert detail["sign_off_required"] is True

    # a reading is required where the step asks for one; a failed step needs a note
    error(await step(api, wo, brake, result="pass"), 422, "invalid_request")
    message = error(await step(api, wo, 0, result="fail"), 422, "invalid_request")
    assert "note" in message
    error(await step(api, wo, 0, result="pass", value=3), 422, "invalid_request")
    error(await step(api, wo, brake, result="pass", value=1, unit="V"), 422, "invalid_request")

    # in limits, given in µm: converted to the step's mm, not flagged
    ok = await step(api, wo, brake, result="pass", value=400, unit="µm")
    assert ok.status_code == 200, ok.text
    entry = ok.json()["checklist"][brake]
    assert entry["value"] == pytest.approx(0.4) and entry["out_of_limits"] is False

    # resolving now is refused with the steps not answered
    refused = await api.post(f"/api/work-orders/{wo}/resolve", json={"note": "done"})
    assert error(refused, 409, "checklist_incomplete")
    missing = [d["step"] for d in refused.json()["error"]["details"]]
    assert brake not in missing and 0 in missing and len(missing) == len(items) - 1

    # out of limits: flagged, and a follow-up job is raised once, linked to this one
    out = await step(api, wo, brake, key="step-brake-1", result="fail", value=0.9, note="worn")
    entry = out.json()["checklist"][brake]
    assert entry["out_of_limits"] is True and entry["follow_up_job"]
    again = await step(api, wo, brake, key="step-brake-1", result="fail", value=0.9, note="worn")
    assert again.status_code == 200 and again.json()["checklist"][brake] == entry
    await step(api, wo, brake, result="fail", value=0.95, note="still worn")
    children = (await api.get("/api/work-orders?kind=request")).json()["items"]
    assert [c["number"] for c in children] == [entry["follow_up_job"]]
    assert children[0]["parent_id"] == wo and children[0]["equipment_id"] == "e1"
    trail = (await api.get(f"/api/work-orders/{wo}/audit")).json()
    assert [e["action"] for e in trail].count("step") == 3  # the replay was not applied again
    assert [e["action"] for e in trail].count("follow_up_raised") == 1

    for index, item in enumerate(detail["checklist"]):
        if index == brake:
            continue
        value = {"value": 0} if item["reading"] else {}
        if item["reading"] and item["reading"]["min"] is not None:
            value = {"value": item["reading"]["min"]}
        assert (await step(api, wo, index, result="pass", **value)).status_code == 200

    # every step answered, but the visit is not signed off
    refused = await api.post(f"/api/work-orders/{wo}/resolve", json={"note": "visit done"})
    error(refused, 409, "sign_off_missing")
    signed = await api.client.post(
        f"/api/work-orders/{wo}/sign-off",
        headers=api.auth("tech1"),
        files={"signature": ("sig.png", png(), "image/png")},
        data={"signer": "Chan Tai Man", "channel": "console"},
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["signed_by"] == "Chan Tai Man" and signed.json()["signed_at"]
    resolved = await api.post(f"/api/work-orders/{wo}/resolve", json={"note": "visit done"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "closed"


async def test_photos_are_checked_stripped_and_served_to_signed_in_users(
    api: Api, tmp_path: Path
) -> None:
    wo = lift_visit(api)
    url = f"/api/work-orders/{wo}/photos"
    headers = {**api.auth("tech1"), "Idempotency-Key": "photo-0001"}
    files = {"file": ("IMG_0001.jpg", camera_jpeg(), "image/jpeg")}
    sent = await api.client.post(url, headers=headers, files=files, data={"caption": "brake"})
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    again = await api.client.post(url, headers=headers, files=files, data={"caption": "brake"})
    assert again.status_code == 201 and again.json()["id"] == photo["id"]
    assert len((await api.get(f"/api/work-orders/{wo}")).json()["photos"]) == 1

    served = await api.get(photo["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    stored = Image.open(io.BytesIO(served.content))
    assert stored.size == (640, 480)
    assert not stored.getexif() and GPS_IFD not in stored.getexif()
    assert CAMERA_MAKE.encode() not in served.content and b"Exif" not in served.content
    on_disk = list((tmp_path / "data" / "work-orders").glob("WO-*/*"))
    assert len(on_disk) == 2 and all(b"Exif" not in p.read_bytes() for p in on_disk)
    thumb = await api.get(photo["url"] + "?thumb=true")
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    assert (await api.get(photo["url"], who=None)).status_code == 401

    # a file that is not an image, whatever it says it is; a GIF; one over the size limit
    fake = {"file": ("x.jpg", b"<html>not a photo</html>", "image/jpeg")}
    error(await api.post(url, files=fake), 422, "invalid_request")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    error(await api.post(url, files={"file": ("a.gif", gif.getvalue())}), 422, "invalid_request")
    noise = Image.effect_noise((600, 600), 80).convert("RGB")
    big = io.BytesIO()
    noise.save(big, "PNG")
    assert len(big.getvalue()) > 200_000
    too_big = await api.post(url, files={"file": ("big.png", big.getvalue())})
    error(too_big, 413, "payload_too_large")
    # an engineer watches; they do not add photos
    error(await api.post(url, who="eng1", files=files), 403, "forbidden")
