"""One's own profile: the language (the browser's, recorded until the person chooses one, then
theirs on every device and in their messages), the site's time zone the console shows times
in; and the units of an equipment's points on its page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cloud.enums import Role
from tests.cloud.harness import Api, error, serve, settings_for
from tests.harness import write_site

ZONE = "Asia/Shanghai"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path)
    write_site(tmp_path / "site.yaml", "cloud-s1", timezone=ZONE)
    users = {"admin1": Role.ADMIN, "tech1": Role.TECHNICIAN, "tech2": Role.TECHNICIAN}
    async with serve(settings, users=users) as a:
        yield a


async def profile(api: Api, who: str) -> dict[str, Any]:
    r = await api.get("/api/me/profile", who=who)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def patch_me(api: Api, who: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.client.patch("/api/users/me", json=body, headers=api.auth(who))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def test_the_browsers_language_is_kept_until_the_person_chooses(api: Api) -> None:
    first = await profile(api, "tech1")
    assert (first["language"], first["language_chosen"], first["time_zone"]) == ("en", False, ZONE)

    # the console records the browser's language: messages follow it, nothing is chosen yet
    browser = await patch_me(api, "tech1", {"language": "zh", "chosen": False})
    assert (browser["language"], browser["language_chosen"]) == ("zh", False)
    assert browser["username"] == "tech1" and browser["time_zone"] == ZONE

    # the person picks English with the switch: chosen, and another browser does not undo it
    picked = await patch_me(api, "tech1", {"language": "en"})
    assert (picked["language"], picked["language_chosen"]) == ("en", True)
    again = await patch_me(api, "tech1", {"language": "zh", "chosen": False})
    assert (again["language"], again["language_chosen"]) == ("en", True)
    assert (await profile(api, "tech1"))["language"] == "en"

    # the messages' own route is a choice as well; nobody else's profile changed
    r = await api.client.put("/api/me/language", json={"language": "zh"}, headers=api.auth("tech1"))
    assert r.status_code == 200, r.text
    now = await profile(api, "tech1")
    assert (now["language"], now["language_chosen"]) == ("zh", True)
    other = await profile(api, "tech2")
    assert (other["language"], other["language_chosen"]) == ("en", False)


async def test_a_language_the_service_does_not_have_is_refused(api: Api) -> None:
    r = await api.client.patch("/api/users/me", json={"language": "fr"}, headers=api.auth("tech1"))
    assert "language" in error(r, 422, "invalid_request")
    assert (await profile(api, "tech1"))["language"] == "en"


async def test_admins_still_change_others_and_me_is_the_caller(api: Api) -> None:
    r = await api.client.patch(
        "/api/users/tech2", json={"display_name": "Tech Two"}, headers=api.auth("admin1")
    )
    assert r.status_code == 200 and r.json()["display_name"] == "Tech Two", r.text
    admin = await patch_me(api, "admin1", {"language": "zh"})
    assert (admin["username"], admin["language"]) == ("admin1", "zh")
    listed = (await api.get("/api/users/tech2", who="admin1")).json()
    assert (listed["language"], listed["language_chosen"]) == ("en", False)
    r = await api.post("/api/users", who="admin1", json={"username": "me", "role": "technician"})
    assert "reserved" in error(r, 422, "invalid_request")


async def test_an_equipments_page_gives_the_units_of_its_points(api: Api) -> None:
    pump = (await api.get("/api/equipment/p1")).json()
    assert pump["units"]["discharge_pressure"] == "bar"
    assert pump["units"]["motor_temperature"] == "degC"
    assert "dry_run" not in pump["units"]  # on/off has no unit
    lift = (await api.get("/api/equipment/e1")).json()
    assert lift["units"]["load"] == "kg" and "discharge_pressure" not in lift["units"]
    listed = (await api.get("/api/equipment")).json()["items"]
    assert all("units" not in e for e in listed)  # the list stays light
