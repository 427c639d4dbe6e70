"""The console's on-call page in a real browser against the real stack (demo mode, so the
demo teams have their rota): a technician sees who is on call and the coming shifts but no
form; a supervisor puts someone else on call and sees the page say so."""

from __future__ import annotations

import pytest

from tests.cloud.console.browser import (
    Stack,
    check_accessible_basics,
    chromium,
    new_page,
    page_errors,
    shot,
    sign_in,
)

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_the_on_call_page(stack: Stack) -> None:
    team = "tower-a-plumbing"
    with chromium() as browser:
        page = new_page(browser)
        errors = page_errors(page)
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
