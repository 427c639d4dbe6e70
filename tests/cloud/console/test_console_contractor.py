"""The console for a contractor, in a real browser (Debian's Chromium driven by Playwright)
against `plantroom cloud` in demo mode as its own process: the lift contractor's `lift1`
signs in, sees no alarms, equipment or rota sections, sees the lift contractor's visit (and
no other job), takes it, and is told in the resolve form that the visit must be signed off
first."""

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
    sign_in,
)
from tests.harness import request, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def raise_visit(stack: Stack) -> str:
    """The PM scheduler run now: the demo brought the lift contractor's first visit within
    its lead, so it is raised; its number."""
    response = request("POST", f"{stack.url}/api/pm/run", headers=stack.auth("super1"), timeout=10)
    response.raise_for_status()

    def visit() -> str | None:
        jobs = stack.api("/api/work-orders?team=lift-contractor")["items"]
        return str(jobs[0]["number"]) if jobs else None

    return str(wait_for(visit, "the lift contractor's visit", within=20))


def test_a_contractor_sees_and_takes_only_the_contractors_visit(stack: Stack) -> None:
    number = raise_visit(stack)
    others = stack.api("/api/work-orders")["total"]
    with chromium() as browser:
        page = new_page(browser)
        run(page, stack, number, others)


def run(page: Any, stack: Stack, number: str, others: int) -> None:
    errors = page_errors(page)
    sign_in(page, stack, "lift1")
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Jobs")).to_be_visible()
    for hidden in ("Alarms", "Equipment", "On call"):
        expect(nav.get_by_role("link", name=hidden)).to_be_hidden()
    expect(page.locator("#system-alarms")).to_be_hidden()

    cards = page.locator("section[aria-labelledby='open-h'] li.card")
    expect(cards).to_have_count(1)  # the visit; the office sees `others` jobs in all
    expect(cards.first).to_contain_text(number)
    assert others >= 1
    # the equipment is named, not linked: a contractor has no equipment pages
    expect(cards.first.locator("a[href^='#/equipment/']")).to_have_count(0)
    check_accessible_basics(page)

    cards.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=number, level=1)).to_be_visible()
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("button", name="Start work").click()
    page.get_by_role("button", name="Resolve…").click()
    hint = page.locator("form.note[data-action='resolve'] .hint")
    expect(hint).to_contain_text("This job must be signed off before it is resolved.")
    assert errors == []
