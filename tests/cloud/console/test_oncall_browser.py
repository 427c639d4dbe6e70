"""The console's on-call page in a real browser against the real stack (demo mode, so the
demo teams have their rota): a technician sees who is on call and the coming shifts but no
form; a supervisor puts someone else on call and sees the page say so."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
        # the form takes times at the site (the rota's zone), not in the browser's own zone
        at_site = datetime.now(ZoneInfo(stack.api(f"/api/oncall/rotas/{team}")["timezone"]))
        form.get_by_label("From").fill(f"{at_site - timedelta(minutes=1):%Y-%m-%dT%H:%M}")
        form.get_by_label("Until").fill(f"{at_site + timedelta(hours=1):%Y-%m-%dT%H:%M}")
        form.get_by_label("Note").fill("covering the visit")
        form.get_by_role("button", name="Add override").click()
        expect(card).to_contain_text(f"On call: {other}")
        expect(card).to_contain_text("(override by Super One)")
        expect(card).to_contain_text("covering the visit")
        check_accessible_basics(page)
        shot(page, "on-call")
        assert stack.api(f"/api/oncall?team={team}")[0]["primary"]["display_name"] == other
        assert errors == []
