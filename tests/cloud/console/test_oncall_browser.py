"""The console's on-call page in a real browser against the real stack (demo mode, so the
demo teams have their rota): a technician sees who is on call and the coming shifts but no
form; a supervisor puts someone else on call and sees the page say so."""

from __future__ import annotations

from typing import Any

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


def sign_in(page: Any, stack: Stack, username: str) -> None:
    page.goto(stack.url + "/")
    page.get_by_label("API token", exact=True).fill(stack.token(username))
    page.get_by_role("button", name="Sign in with token").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()


def test_the_on_call_page(stack: Stack) -> None:
    team = "tower-a-plumbing"
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=1, locale="en-GB")
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            now = stack.api(f"/api/oncall?team={team}")[0]
            on_call = now["primary"]["display_name"]
            other = "Tech Two" if on_call == "Tech One" else "Tech One"

            sign_in(page, stack, "tech1")
            page.get_by_role("link", name="On call").click()
            expect(page.get_by_role("heading", name="On call now", level=1)).to_be_visible()
            card = page.locator("li.card").filter(has=page.get_by_role("heading", name=team))
            expect(card).to_contain_text(f"On call: {on_call}")
            expect(card).to_contain_text("Supervisor: Super One")
            expect(card.locator("table tbody tr")).to_have_count(7)
            expect(card.get_by_role("button", name="Add override")).to_have_count(0)
            check_accessible_basics(page)

            page.get_by_role("button", name="Sign out").click()
            sign_in(page, stack, "super1")
            page.get_by_role("link", name="On call").click()
            form = card.get_by_role("form", name=f"Override for {team}")
            form.get_by_label("Who covers").select_option(label=other)
            start = page.evaluate(
                "() => { const d = new Date(Date.now() - 60000);"
                " d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
                " return d.toISOString().slice(0, 16); }"
            )
            end = page.evaluate(
                "() => { const d = new Date(Date.now() + 3600000);"
                " d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
                " return d.toISOString().slice(0, 16); }"
            )
            form.get_by_label("From").fill(start)
            form.get_by_label("Until").fill(end)
            form.get_by_label("Note").fill("covering the visit")
            form.get_by_role("button", name="Add override").click()
            expect(card).to_contain_text(f"On call: {other}")
            expect(card).to_contain_text("(override by Super One)")
            expect(card).to_contain_text("covering the visit")
            check_accessible_basics(page)
            shot(page, "on-call")
            assert stack.api(f"/api/oncall?team={team}")[0]["primary"]["display_name"] == other
            assert errors == []
        finally:
            browser.close()
