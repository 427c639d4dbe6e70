"""The "send me a test" flow through a real SMTP server (STARTTLS, login): the code arrives
by e-mail, verifying with it marks the contact point verified; a wrong code is refused and
counted, the last allowed wrong code voids it, and a code expires."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.enums import Role
from tests.cloud.harness import Api, serve, settings_for
from tests.cloud.notify.mail import Smtp, html_of, smtp_server

pytestmark = pytest.mark.integration

ADDRESS = "tech1@example.com"
CODE = re.compile(r"code is (\d{6}) \(valid (\d+) minutes\)")
MAX_TRIES = 3


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Api, Smtp]]:
    with smtp_server(tmp_path, monkeypatch) as smtp:
        settings = settings_for(
            tmp_path,
            notifications_file=smtp.channels,
            notify_link_secret="k" * 32,
            notify_code_ttl_s=600.0,
            notify_code_max_tries=MAX_TRIES,
        )
        async with serve(settings, users={"tech1": Role.TECHNICIAN}) as api:
            yield api, smtp


async def add_point(api: Api) -> int:
    r = await api.post("/api/me/contact-points", json={"channel": "email", "address": ADDRESS})
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is False
    return int(r.json()["id"])


async def send_test(api: Api, smtp: Smtp, point: int) -> str:
    """Ask for a test message; the code the newest one carried."""
    before = len(smtp.messages_to(ADDRESS))
    r = await api.post(f"/api/me/contact-points/{point}/test")
    assert r.status_code == 200, r.text
    mails = smtp.messages_to(ADDRESS)
    assert len(mails) == before + 1
    found = CODE.search(html_of(mails[-1]))
    assert found, html_of(mails[-1])
    assert found[2] == "10"  # PLANTROOM_NOTIFY_CODE_TTL_S=600
    return found[1]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def verify(api: Api, point: int, code: str) -> tuple[int, dict[str, object]]:
    r = await api.post(f"/api/me/contact-points/{point}/verify", json={"code": code})
    body: dict[str, object] = r.json()
    return r.status_code, body


async def is_verified(api: Api, point: int) -> bool:
    points = (await api.get("/api/me/contact-points")).json()
    return bool(next(p for p in points if p["id"] == point)["verified"])


async def test_the_mailed_code_verifies_the_contact_point(site: tuple[Api, Smtp]) -> None:
    api, smtp = site
    point = await add_point(api)
    status, body = await verify(api, point, "123456")
    assert status == 409 and "send a test first" in str(body["error"])
    code = await send_test(api, smtp, point)

    status, body = await verify(api, point, wrong(code))
    assert status == 422 and f"{MAX_TRIES - 1} tries left" in str(body["error"])
    assert not await is_verified(api, point)

    status, body = await verify(api, point, code)
    assert status == 200, body
    assert body["verified"] is True and body["verified_at"] is not None
    assert await is_verified(api, point)
    status, body = await verify(api, point, code)  # the code is used up
    assert status == 409


async def test_wrong_codes_are_bounded_then_a_new_test_is_needed(site: tuple[Api, Smtp]) -> None:
    api, smtp = site
    point = await add_point(api)
    code = await send_test(api, smtp, point)
    for left in range(MAX_TRIES - 1, 0, -1):
        status, body = await verify(api, point, wrong(code))
        assert status == 422 and f"{left} tries left" in str(body["error"]), body
    status, body = await verify(api, point, wrong(code))
    assert status == 409 and "void" in str(body["error"]), body
    status, body = await verify(api, point, code)  # the right code no longer works
    assert status == 409 and "send a test first" in str(body["error"]), body
    assert not await is_verified(api, point)

    fresh = await send_test(api, smtp, point)  # a new code, and the tries start again
    for _ in range(MAX_TRIES - 1):
        status, _body = await verify(api, point, wrong(fresh))
        assert status == 422
    status, body = await verify(api, point, fresh)
    assert status == 200 and body["verified"] is True, body


async def test_a_code_expires(site: tuple[Api, Smtp]) -> None:
    api, smtp = site
    point = await add_point(api)
    code = await send_test(api, smtp, point)
    api.clock.advance(601)
    status, body = await verify(api, point, code)
    assert status == 409 and "expired" in str(body["error"]), body
    status, body = await verify(api, point, code)
    assert status == 409 and "send a test first" in str(body["error"])
    code = await send_test(api, smtp, point)
    api.clock.advance(599)
    status, body = await verify(api, point, code)
    assert status == 200 and body["verified"] is True, body


async def test_another_persons_contact_point_is_refused(site: tuple[Api, Smtp]) -> None:
    api, smtp = site
    point = await add_point(api)
    await send_test(api, smtp, point)
    api.user("tech2", Role.TECHNICIAN)
    r = await api.post(f"/api/me/contact-points/{point}/test", who="tech2")
    assert r.status_code == 403
    r = await api.post(
        f"/api/me/contact-points/{point}/verify", who="tech2", json={"code": "000000"}
    )
    assert r.status_code == 403
