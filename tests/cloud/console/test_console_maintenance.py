"""Maintenance mode in Debian's Chromium against the real cloud process: a supervisor puts the
pump in maintenance from its equipment page (a duration and a reason), the page and the pump's
job card say "In maintenance until …", and the supervisor ends it early. A technician sees the
window but is offered no controls. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cloud.console.browser import (
    Stack,
    check_accessible_basics,
    chromium,
    expect,
    new_page,
    page_errors,
    shot,
    sign_in,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

REASON = "Seal replacement, pump isolated"


def at_the_pump(page: Any, stack: Stack, username: str) -> None:
    sign_in(page, stack, username, "/equipment/pump-a1")  # the QR label's address
    expect(page.get_by_role("heading", level=1)).to_contain_text("pump-a1")


def test_a_supervisor_puts_the_pump_in_maintenance_and_ends_it(stack: Stack) -> None:
    job = stack.post(
        "/api/work-orders", {"title": "Pump A1 noisy", "equipment_id": "pump-a1"}, "tech1"
    )
    with chromium() as browser:
        page = new_page(browser, scale=2)
        errors = page_errors(page)
        at_the_pump(page, stack, "super1")
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
        card = page.locator(f"section[aria-labelledby='eq-jobs-h'] li.card[data-key='{job['id']}']")
        expect(card.locator(".chip.maintenance")).to_contain_text("In maintenance until")
        shot(page, "maintenance-on")

        tech = new_page(browser, scale=2)
        at_the_pump(tech, stack, "tech1")
        tech_box = tech.locator("section.maintenance")
        expect(tech_box).to_contain_text(REASON)
        expect(tech_box.get_by_role("button")).to_have_count(0)

        box.get_by_role("button", name="End maintenance now").click()
        expect(box).to_contain_text("Not in maintenance.")
        expect(card.locator(".chip.maintenance")).to_have_count(0)
        ended = stack.api(f"/api/maintenance/{window['id']}")
        assert ended["ended_by"] == "super1" and ended["ended_at"] is not None
        assert errors == []
