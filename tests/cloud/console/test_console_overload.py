"""The console on a full API: a cloud that works on one request at a time and holds none
waiting answers most of a page's dozen reads `503 overloaded` with `Retry-After`; the console
asks each again after the time given, so the jobs page and the board still load. A write
turned away is asked again too (nothing was done for it): a supervisor's assignment, a
technician's sign-off (with its key); and a job's action still turned away after that is kept
on the phone and sent later, as one made without signal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stack.services import Influxd, Mosquitto
from tests.cloud.console.browser import (
    SMALL_PHONE,
    WAIT_MS,
    Stack,
    chromium,
    draw_signature,
    expect,
    new_page,
    page_errors,
    raise_lift_visit,
    running_cloud,
    shot,
    sign_in,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

FULL = {"PLANTROOM_API_MAX_IN_PROGRESS": "1", "PLANTROOM_API_MAX_QUEUED": "0"}


@pytest.fixture
def full(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> Iterator[Stack]:
    """The cloud process on tower-a, admitting one request at a time and queueing none."""
    with running_cloud(
        tmp_path,
        mosquitto,
        influxd,
        site=f"ov-{uuid.uuid4().hex[:8]}",
        database=f"ov_{uuid.uuid4().hex[:8]}",
        env=FULL,
    ) as running:
        yield running


def test_a_page_loads_on_a_full_api_by_asking_again(full: Stack) -> None:
    job = full.post(
        "/api/work-orders", {"title": "Pump A1 noisy", "equipment_id": "pump-a1"}, "tech1"
    )
    turned_away: list[str] = []
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE)
        errors = page_errors(page)

        def seen(response: Any) -> None:
            if response.status == 503 and response.request.method == "GET":
                turned_away.append(response.url)

        page.on("response", seen)
        sign_in(page, full, "super1")
        expect(page.get_by_role("article", name=job["title"])).to_be_visible(timeout=WAIT_MS)
        page.goto(full.url + "/#/board")
        expect(page.get_by_role("heading", name="Supervisor board")).to_be_visible()
        board_card = page.locator(f"li.card[data-number='{job['number']}']")
        expect(board_card).to_be_visible(timeout=WAIT_MS)
        shot(page, "overload-board")
        assert turned_away, "the API was never full: the test shows nothing"
        # each read turned away was asked again and answered: no error is left on the page
        expect(page.get_by_text("serving all it can")).to_have_count(0)
        assert errors == []


BUSY = {"error": {"code": "overloaded", "message": "The service is serving all it can."}}


def turn_away(route: Any) -> None:
    """The service's answer when it is full (cloud.api.admission), given before any work."""
    route.fulfill(status=503, headers={"Retry-After": "1"}, body=json.dumps(BUSY))


@contextmanager
def signing_off(stack: Stack, refusals: int, keys: list[str]) -> Iterator[tuple[Any, int]]:
    """tech1 on a phone, on the lift visit started, signs off while the service turns the
    first `refusals` sign-offs away (as when full). Yields the page and the job, keeping the
    Idempotency-Key of each sign-off sent in `keys`."""

    def sent(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/sign-off"):
            keys.append(request.headers.get("idempotency-key", ""))

    visit = raise_lift_visit(stack)
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE)
        errors = page_errors(page)
        page.on("request", sent)
        sign_in(page, stack, "tech1", where=f"/#/jobs/{visit['id']}")
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_role("button", name="Start work").click()
        expect(page.locator(".job .card")).to_contain_text("in progress")
        page.route("**/sign-off", turn_away, times=refusals)
        page.get_by_label("Signer's name").fill("Chan Tai Man")
        pad = page.get_by_role("img", name="Signature: draw with a finger in the box")
        draw_signature(page, pad)
        page.get_by_role("button", name="Sign off", exact=True).click()
        yield page, visit["id"]
        expect(page.locator(".card-error:visible")).to_have_count(0)
        assert errors == []


def signed_once(stack: Stack, job: int) -> None:
    done = stack.api(f"/api/work-orders/{job}")
    assert done["signed_by"] == "Chan Tai Man", done
    events = stack.api(f"/api/work-orders/{job}/audit")
    assert [e["action"] for e in events].count("sign_off") == 1, events


def test_a_sign_off_turned_away_is_asked_again_with_its_key(lift: Stack) -> None:
    keys: list[str] = []
    with signing_off(lift, refusals=2, keys=keys) as (page, job):
        signoff = page.locator("section.signoff")
        expect(signoff.locator(".signed")).to_contain_text("Signed off by Chan Tai Man")
        expect(signoff.locator(".pending")).to_have_count(0)
    # asked three times, with the action's one key each time, and applied once
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0], keys
    signed_once(lift, job)


def test_a_sign_off_still_turned_away_is_kept_and_sent_later(lift: Stack) -> None:
    keys: list[str] = []
    # turned away at the first try and at all five of the console's own: then it is kept
    with signing_off(lift, refusals=6, keys=keys) as (page, job):
        signoff = page.locator("section.signoff")
        expect(signoff.locator(".signed")).to_contain_text("Chan Tai Man", timeout=30_000)
        expect(signoff.locator(".pending")).to_have_text("Kept on this device: waiting to send")
        # told why: the phone has signal, the service was busy
        busy = "The service is busy: kept on this device, and sent by itself in a moment."
        expect(page.locator("#announcer")).to_have_text(busy)
        shot(page, "overload-sign-off-kept")
        # the outbox sends it at its next try, which the service takes
        expect(page.locator("#outbox")).to_be_hidden(timeout=30_000)
        page.get_by_role("heading", level=1).focus()
        expect(signoff.locator(".pending")).to_have_count(0)
    assert len(keys) == 7 and len(set(keys)) == 1 and keys[0], keys
    signed_once(lift, job)


def test_a_supervisors_assignment_turned_away_is_asked_again(stack: Stack) -> None:
    job = stack.post(
        "/api/work-orders",
        {"title": "Pump A1 leaking", "equipment_id": "pump-a1", "priority": "normal"},
        "tech1",
    )
    sent: list[str] = []
    with chromium() as browser:
        page = new_page(browser, {"width": 1280, "height": 900})
        errors = page_errors(page)
        page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/assign") else None)
        sign_in(page, stack, "super1")
        page.get_by_role("link", name="Board").click()
        card = page.locator(f"li.card[data-number='{job['number']}']")  # unassigned: on the board
        page.route("**/assign", turn_away, times=1)
        card.get_by_label("Assign to").select_option(label="Tech Two")
        card.get_by_role("button", name="Assign", exact=True).click()
        expect(page.locator("#announcer")).to_contain_text(job["number"])
        expect(page.get_by_text("Refused:")).to_have_count(0)
        assert errors == []
    assert len(sent) == 2, sent  # turned away, then asked again and applied
    assert stack.api(f"/api/work-orders/{job['id']}")["assignee"]["username"] == "tech2"
