"""The console without signal, on a phone (360 by 640) in Debian's Chromium against the real
cloud process: the installable app's manifest and service worker; the lift visit worked
partly offline (readings, a comment, a photo) with the header counting what waits to be sent,
a reload offline showing the kept job, and everything sent once when the signal returns (one
answer lost on the way and sent again, applied once); and a conflict: someone else took the
job meanwhile. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.cloud.console.browser import (
    SMALL_PHONE,
    WAIT_MS,
    Stack,
    chromium,
    expect,
    page_errors,
    raise_lift_visit,
    shot,
    sign_in,
)
from tests.cloud.harness import camera_jpeg

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def signed_in(page: Any, stack: Stack, username: str) -> list[str]:
    errors = page_errors(page)
    sign_in(page, stack, username)
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    # the service worker has installed and controls the page: the console's files are kept
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return errors


@contextmanager
def on_a_phone(stack: Stack, visit: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """tech1 on a phone-sized browser, signed in, on `visit`'s page; no page errors after."""
    with chromium() as browser:
        context = browser.new_context(viewport=SMALL_PHONE, device_scale_factor=2, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors = signed_in(page, stack, "tech1")
        page.goto(f"{stack.url}/#/jobs/{visit['id']}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(visit["number"])
        yield context, page
        assert errors == []


def audit(stack: Stack, job: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = stack.api(f"/api/work-orders/{job}/audit")
    return events


def test_the_app_installs_from_its_manifest_and_worker(lift: Stack) -> None:
    stack = lift
    manifest = httpx.get(f"{stack.url}/manifest.webmanifest", timeout=5)
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/#/jobs" and body["display"] == "standalone"
    for icon in body["icons"]:
        png = httpx.get(f"{stack.url}{icon['src']}", timeout=5)
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    worker = httpx.get(f"{stack.url}/sw.js", timeout=5)
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    shell = json.loads(worker.text.split("\n", 1)[0].removeprefix("const SHELL = ").rstrip(";"))
    assert {"/", "/console/app.js", "/console/outbox.js", "/console/i18n/zh-CN.json"} <= set(shell)
    page = httpx.get(f"{stack.url}/", timeout=5)
    assert "worker-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{stack.url}/icons/icon-64.png", timeout=5).status_code == 404


def test_a_visit_worked_partly_offline_is_sent_once(lift: Stack) -> None:
    stack = lift
    visit = raise_lift_visit(stack)
    steps = visit["checklist"]
    with on_a_phone(stack, visit) as (context, page):
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_role("button", name="Start work").click()
        expect(page.locator(".job .card")).to_contain_text("in progress")
        items = page.locator("ol.steps > li")

        # the first answer reaches the service but its answer is lost: the console keeps
        # it and sends it again with the same key
        def lose_the_answer(route: Any) -> None:
            route.fetch()
            route.abort("internetdisconnected")

        page.route("**/steps/0", lose_the_answer, times=1)
        answer(items.nth(0), steps[0], "Pass")
        expect(items.nth(0).get_by_role("button", name="Pass")).to_have_attribute(
            "aria-pressed", "true"
        )
        # sent again at the console's next retry (2 s, then longer): wait for it, not for 5 s;
        # the page is drawn again once the person is not in a field (they may be in the next)
        expect(page.locator("#outbox")).to_be_hidden(timeout=30_000)
        page.get_by_role("heading", level=1).focus()
        expect(items.nth(0).locator(".pending")).to_have_count(0, timeout=30_000)

        context.set_offline(True)
        expect(page.locator("#live")).to_have_text("Offline", timeout=30_000)
        for i in (1, 2, 3):
            answer(items.nth(i), steps[i], "Pass")
            expect(items.nth(i).locator(".pending")).to_contain_text("waiting to send")
        expect(page.locator("#outbox")).to_have_text("3 waiting to send")
        page.get_by_label("Add a comment").fill("Pit light out; replaced.")
        page.get_by_role("button", name="Add comment").click()
        expect(page.locator(".comment-list")).to_contain_text("Pit light out")
        page.set_input_files(
            "#photo-file",
            files=[{"name": "pit.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}],
        )
        expect(page.locator(".thumbs img")).to_have_count(1)
        expect(page.locator("#outbox")).to_have_text("5 waiting to send")
        shot(page, "offline-waiting")

        # reloaded without signal: the page, the job and what waits are all on the device
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_contain_text(visit["number"])
        expect(page.locator("#outbox")).to_have_text("5 waiting to send")
        expect(page.locator("#live")).to_have_text("Offline", timeout=30_000)
        expect(items).to_have_count(len(steps))
        expect(items.nth(3).locator(".pending")).to_contain_text("waiting to send")
        expect(page.locator(".comment-list")).to_contain_text("Pit light out")
        shot(page, "offline-reloaded")

        context.set_offline(False)
        expect(page.locator("#outbox")).to_be_hidden()
        expect(page.locator("#live")).to_have_text("Live")
        expect(page.locator(".pending")).to_have_count(0)
        expect(page.locator("#checklist-h")).to_contain_text(f"4 of {len(steps)}")
        shot(page, "offline-synced")

    done = stack.api(f"/api/work-orders/{visit['id']}")
    assert [s["done"] for s in done["checklist"][:4]] == [True] * 4
    assert not any(s["done"] for s in done["checklist"][4:])
    assert [c["text"] for c in done["comments"]] == ["Pit light out; replaced."]
    assert [p["kind"] for p in done["photos"]] == ["photo"]
    by_tech = [e for e in audit(stack, visit["id"]) if e["actor"] == "tech1"]
    actions = Counter(e["action"] for e in by_tech)
    assert actions["acknowledge"] == actions["start"] == 1, actions
    steps_answered = Counter(e["details"]["step"] for e in by_tech if e["action"] == "step")
    assert all(steps_answered[i] == 1 for i in range(4)), steps_answered


def answer(item: Any, step: dict[str, Any], result: str) -> None:
    reading = step["reading"]
    if reading is not None:
        value = reading["min"] if reading["min"] is not None else 12.5
        item.get_by_label(f"Reading ({reading['unit']})").fill(str(value))
    item.get_by_role("button", name=result).click()


def test_a_job_someone_else_took_while_offline_shows_the_conflict(lift: Stack) -> None:
    stack = lift
    visit = raise_lift_visit(stack)
    with on_a_phone(stack, visit) as (context, page):
        context.set_offline(True)
        expect(page.locator("#live")).to_have_text("Offline", timeout=30_000)
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_role("button", name="Start work").click()
        expect(page.locator("#outbox")).to_have_text("2 waiting to send")
        expect(page.locator(".job .card")).to_contain_text("in progress")

        # meanwhile tech2 takes the job
        stack.post(f"/api/work-orders/{visit['id']}/acknowledge", {"channel": "api"}, "tech2")

        context.set_offline(False)
        notice = page.locator("section.held")
        expect(notice).to_contain_text("someone else changed this job")
        expect(notice).to_contain_text("cannot acknowledge a work order that is acknowledged")
        expect(notice.locator("li")).to_have_count(2)
        expect(page.locator("#outbox")).to_have_text("2 held, not sent")
        shot(page, "offline-conflict")

        # held: trying again is refused the same way; discarding shows the job as it is
        page.get_by_role("button", name="Try sending again").click()
        expect(notice).to_contain_text("someone else changed this job")
        page.get_by_role("button", name="Discard them").click()
        expect(notice).to_have_count(0)
        expect(page.locator("#outbox")).to_be_hidden()
        expect(page.locator(".job .card")).to_contain_text("acknowledged")
    events = audit(stack, visit["id"])
    assert [e["actor"] for e in events if e["action"] == "acknowledge"] == ["tech2"]
    assert not any(e["actor"] == "tech1" for e in events)
