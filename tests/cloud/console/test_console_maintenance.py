"""Maintenance mode in Debian's Chromium against the real cloud process: a supervisor puts the
pump in maintenance from its equipment page (a duration and a reason), the page and the pump's
job card say "In maintenance until …", and the supervisor ends it early. A technician sees the
window but is offered no controls. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cloud.console.test_console_browser import (
    PHONE,
    WAIT_MS,
    Stack,
    check_accessible_basics,
    launch,
    shot,
    stack,
)

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = [pytest.mark.integration, pytest.mark.browser]

__all__ = ["stack"]  # the fixture, shared with the console's scenario

REASON = "Seal replacement, pump isolated"


def sign_in(page: Any, stack: Stack, username: str) -> None:
    page.goto(stack.url + "/equipment/pump-a1")  # the QR label's address
    page.get_by_label("API token", exact=True).fill(stack.token(username))
    page.get_by_role("button", name="Sign in with token").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("pump-a1")


def test_a_supervisor_puts_the_pump_in_maintenance_and_ends_it(stack: Stack) -> None:
    job = httpx.post(
        f"{stack.url}/api/work-orders",
        json={"title": "Pump A1 noisy", "equipment_id": "pump-a1"},
        headers={"Authorization": f"Bearer {stack.token('tech1')}"},
        timeout=5,
    ).json()
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=2, locale="en-GB")
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            sign_in(page, stack, "super1")
            box = page.locator("section.maintenance")
            expect(box.get_by_role("heading", name="Maintenance")).to_be_visible()
            expect(box).to_contain_text("Not in maintenance.")
            box.get_by_label("In maintenance for").select_option("240")
            box.get_by_label("Reason").fill(REASON)
            check_accessible_basics(page)
            shot(page, "maintenance-start")
            box.get_by_role("button", name="Start maintenance").click()
            expect(box).to_contain_text("In maintenance until")
            expect(box).to_contain_text(REASON)
            expect(box).to_contain_text("(set by super1)")
            expect(box).not_to_contain_text("null")
            (window,) = stack.api("/api/maintenance?current=true")
            assert (window["equipment_id"], window["created_by"]) == ("pump-a1", "super1")
            card = page.locator(
                f"section[aria-labelledby='eq-jobs-h'] li.card[data-key='{job['id']}']"
            )
            expect(card.locator(".chip.maintenance")).to_contain_text("In maintenance until")
            shot(page, "maintenance-on")

            tech = browser.new_page(viewport=PHONE, device_scale_factor=2, locale="en-GB")
            tech.set_default_timeout(WAIT_MS)
            sign_in(tech, stack, "tech1")
            tech_box = tech.locator("section.maintenance")
            expect(tech_box).to_contain_text(REASON)
            expect(tech_box.get_by_role("button")).to_have_count(0)

            box.get_by_role("button", name="End maintenance now").click()
            expect(box).to_contain_text("Not in maintenance.")
            expect(card.locator(".chip.maintenance")).to_have_count(0)
            ended = stack.api(f"/api/maintenance/{window['id']}")
            assert ended["ended_by"] == "super1" and ended["ended_at"] is not None
            assert errors == []
        finally:
            browser.close()
