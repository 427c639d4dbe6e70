"""The half-monthly lift visit worked on a phone (360 by 640) in Debian's Chromium against the
real cloud process: each step answered with its reading, one reading out of limits (flagged,
raising its follow-up job), a photo from the camera input, a comment, a signature drawn on the
pad, and the job resolved. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.cloud.console.browser import (
    PHONE,
    SMALL_PHONE,
    Stack,
    check_accessible_basics,
    chromium,
    draw_signature,
    expect,
    new_page,
    page_errors,
    raise_lift_visit,
    shot,
)
from tests.cloud.harness import camera_jpeg
from tests.harness import request

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_a_technician_works_the_lift_visit_on_a_phone(lift: Stack) -> None:
    stack = lift
    visit = raise_lift_visit(stack)
    steps = visit["checklist"]
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE, scale=2)
        work_the_visit(page, stack, visit, steps)
    done = stack.api(f"/api/work-orders/{visit['id']}")
    assert done["status"] == "closed" and done["signed_by"] == "Chan Tai Man"
    brake = next(s for s in done["checklist"] if s["item"].startswith("Brake"))
    assert brake["value"] == 0.9 and brake["out_of_limits"] is True and brake["follow_up_job"]
    assert all(s["done"] for s in done["checklist"])
    assert {e["channel"] for e in done["events"] if e["actor"] == "tech1"} == {"console"}
    (photo,) = [p for p in done["photos"] if p["kind"] == "photo"]
    served = request("GET", f"{stack.url}{photo['url']}", headers=stack.auth("tech1"), timeout=5)
    assert b"Exif" not in served.content and not Image.open(io.BytesIO(served.content)).getexif()


def start_the_visit(page: Any, stack: Stack, visit: dict[str, Any]) -> None:
    """Sign in as tech1, open the visit, acknowledge and start it."""
    page.goto(stack.url + "/")
    page.get_by_label("API token", exact=True).fill(stack.token("tech1"))
    page.get_by_role("button", name="Sign in with token").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    page.goto(f"{stack.url}/#/jobs/{visit['id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(visit["number"])
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("button", name="Start work").click()
    expect(page.locator(".job .card")).to_contain_text("in progress")


def work_the_visit(page: Any, stack: Stack, visit: dict[str, Any], steps: list[Any]) -> None:
    errors = page_errors(page)
    start_the_visit(page, stack, visit)
    items = page.locator("ol.steps > li")
    expect(items).to_have_count(len(steps))
    brake_index = next(i for i, s in enumerate(steps) if s["item"].startswith("Brake"))
    brake = items.nth(brake_index)
    expect(brake).to_contain_text("Limits: 0.1 to 0.7 mm")
    brake.get_by_label("Reading (mm)").fill("0.9")
    expect(brake.locator(".step-state")).to_contain_text("Out of limits")
    brake.get_by_role("button", name="Fail").click()
    expect(brake.get_by_role("alert")).to_contain_text("needs a note")
    brake.get_by_label("Note").fill("left shoe lining worn; adjust at the next visit")
    brake.get_by_role("button", name="Fail").click()
    expect(items.nth(brake_index)).to_contain_text("Follow-up job WO-")
    expect(items.nth(brake_index).get_by_role("button", name="Fail")).to_have_attribute(
        "aria-pressed", "true"
    )
    check_accessible_basics(page)
    shot(page, "checklist-out-of-limits")

    for i, step in enumerate(steps):
        if i == brake_index:
            continue
        item = items.nth(i)
        reading = step["reading"]
        if reading is not None:
            value = reading["min"] if reading["min"] is not None else 12.5
            item.get_by_label(f"Reading ({reading['unit']})").fill(str(value))
        item.get_by_role("button", name="Pass").click()
        expect(items.nth(i).get_by_role("button", name="Pass")).to_have_attribute(
            "aria-pressed", "true"
        )
    expect(page.locator("#checklist-h")).to_contain_text(f"{len(steps)} of {len(steps)}")

    # tap targets: every button and field of the job's work is at least 44 px high
    small = page.evaluate(
        """() => [...document.querySelectorAll('.work button, .work input:not(.file), '
                  + '.work textarea, .work .file-button')]
               .filter((el) => el.getBoundingClientRect().height < 44)
               .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert small == []
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"]

    # a photo from the camera input; its thumbnail appears
    page.get_by_label("Caption (optional)").fill("brake shoe, left")
    page.set_input_files(
        "#photo-file",
        files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}],
    )
    thumb = page.locator(".thumbs img")
    expect(thumb).to_have_count(1)
    page.wait_for_function("() => document.querySelector('.thumbs img').src.startsWith('blob:')")

    page.get_by_label("Add a comment").fill("Brake needs a new lining; ordered.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator(".comment-list")).to_contain_text("Brake needs a new lining")

    # resolving before sign-off is refused, and the console says why
    page.get_by_role("button", name="Resolve…").click()
    page.get_by_label("What was done?").fill("half-monthly visit done")
    page.get_by_role("button", name="Resolve job").click()
    expect(page.get_by_role("alert").first).to_contain_text("signed off")
    page.get_by_role("button", name="Cancel").click()

    # the signature, drawn on the pad with the signer's name
    page.get_by_label("Signer's name").fill("Chan Tai Man")
    draw_signature(page, page.locator("#signature-pad"))
    shot(page, "checklist-signature")
    page.get_by_role("button", name="Sign off").click()
    expect(page.locator(".signed")).to_contain_text("Signed off by Chan Tai Man")
    shot(page, "checklist-signed")

    page.get_by_role("button", name="Resolve…").click()
    page.get_by_label("What was done?").fill("half-monthly visit done; brake follow-up raised")
    page.get_by_role("button", name="Resolve job").click()
    expect(page.locator(".job .card")).to_contain_text("closed")
    shot(page, "checklist-closed")
    assert errors == []


def test_the_job_page_keeps_its_place_when_it_is_drawn_again(lift: Stack) -> None:
    """A technician at step 7 of the visit stays at step 7 when the page is drawn again:
    after answering it (the next step takes the focus, below the screen's edge, without
    moving the page: what the answer says stays in view) and after a live update of the job
    made by someone else (a supervisor's comment)."""
    stack = lift
    visit = raise_lift_visit(stack)
    steps = visit["checklist"]
    assert len(steps) >= 8
    with chromium() as browser:
        page = new_page(browser, PHONE, scale=2)
        errors = page_errors(page)
        start_the_visit(page, stack, visit)
        keeps_its_place(page, stack, visit, steps)
        assert errors == []


def keeps_its_place(page: Any, stack: Stack, visit: dict[str, Any], steps: list[Any]) -> None:
    items = page.locator("ol.steps > li")
    seventh = items.nth(6)
    # the step's answers at the bottom of the screen, as a thumb leaves them: the next step
    # begins below the screen's edge
    seventh.locator("fieldset.results").evaluate("(el) => el.scrollIntoView({block: 'end'})")
    assert (
        page.evaluate(
            "document.querySelector('[data-step=\"7\"] input').getBoundingClientRect().top"
        )
        > PHONE["height"]
    )

    def place() -> float:
        top: float = seventh.evaluate("(el) => el.getBoundingClientRect().top")
        return top

    at = place()
    reading = steps[6]["reading"]
    if reading is not None:
        seventh.get_by_label(f"Reading ({reading['unit']})").fill(str(reading["min"] or 1))
    seventh.get_by_role("button", name="Pass").click()
    expect(items.nth(6).get_by_role("button", name="Pass")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#checklist-h")).to_contain_text(f"1 of {len(steps)}")
    # the buttons just tapped still on the screen, the answer and who gave it below them
    # (the page moved no further than that); the next step has the focus
    results = items.nth(6).locator("fieldset.results")
    assert results.evaluate("(el) => el.getBoundingClientRect().top") >= 0, (at, place())
    answered = items.nth(6).locator(".meta").last
    expect(answered).to_contain_text("tech1")
    assert answered.evaluate("(el) => el.getBoundingClientRect().bottom") <= PHONE["height"] + 1
    focused = page.evaluate("document.activeElement.closest('[data-step]')?.dataset.step")
    assert focused == "7"  # the eighth step

    # a live update of the job, with the technician not in a field: drawn again, in place
    page.evaluate("document.activeElement.blur()")
    at = place()
    headers = {"Authorization": f"Bearer {stack.token('super1')}"}
    posted = request(
        "POST",
        f"{stack.url}/api/work-orders/{visit['id']}/comments",
        headers=headers,
        json={"text": "Parts for the brake are on their way.", "channel": "api"},
        timeout=5,
    )
    posted.raise_for_status()
    expect(page.locator(".comment-list")).to_contain_text("Parts for the brake")
    assert abs(place() - at) < 1, (at, place())
