"""The supervisor board in Debian's Chromium against the real cloud process (demo users and
rotas): an unassigned job postponed with a reason, a second postponement refused with the
service's own words, a job at risk reassigned, who is on call; in English on a desk and on a
phone (tap targets of 44 px), and once in Chinese. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.console.browser import (
    PHONE,
    WAIT_MS,
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

DESK = {"width": 1280, "height": 900}
TEAM = "tower-a-plumbing"
REFUSAL = "already postponed once"  # the service's words for a second postponement


def jobs(stack: Stack, tmp_path: Path) -> tuple[str, str]:
    """An unassigned job, and a job given to tech1 whose acknowledgement is 10 minutes from
    due out of its 2 hours (at risk): raised 110 minutes ago, as the database records it."""
    request = {"priority": "normal", "equipment_id": "pump-a1"}
    loose = stack.post("/api/work-orders", {**request, "title": "Pump A1 noisy"}, "tech1")
    late = stack.post("/api/work-orders", {**request, "title": "Pump A1 seal weeping"}, "tech1")
    stack.post(f"/api/work-orders/{late['id']}/assign", {"assignee": "tech1"}, "super1")
    raised = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=110)
    with sqlite3.connect(tmp_path / "db" / "cloud.sqlite") as db:
        db.execute(
            "UPDATE work_orders SET created_at = ?, opened_at = ?, respond_due_at = ?,"
            " resolve_due_at = ? WHERE id = ?",
            (
                raised.isoformat(" "),
                raised.isoformat(" "),
                (raised + timedelta(hours=2)).isoformat(" "),
                (raised + timedelta(days=2)).isoformat(" "),
                late["id"],
            ),
        )
    at_risk = stack.api("/api/work-orders?at_risk=true")["items"]
    assert [wo["number"] for wo in at_risk] == [late["number"]]
    return loose["number"], late["number"]


def card(page: Any, number: str) -> Any:
    return page.locator(f"li.card[data-number='{number}']")


def small_targets(page: Any) -> list[str]:
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll(
             '.board button, .board select, .board input, .board summary, #nav a')]
           .filter((el) => el.offsetParent !== null)
           .filter((el) => el.getBoundingClientRect().height < 44)
           .map((el) => el.outerHTML.slice(0, 80))"""
    )
    return found


def work_the_board(page: Any, stack: Stack, words: dict[str, str], name: str) -> None:
    loose, late = words["loose"], words["late"]
    page.get_by_role("link", name=words["nav"]).click()
    expect(page.get_by_role("heading", name=words["title"], level=1)).to_be_visible()
    team = page.locator("section.board-team").filter(
        has=page.get_by_role("heading", name=TEAM, level=2)
    )
    on_call = stack.api(f"/api/oncall?team={TEAM}")[0]["primary"]["display_name"]
    expect(team.locator("p.on-call")).to_contain_text(on_call)
    expect(card(page, loose)).to_contain_text(words["unassigned"])
    expect(card(page, late)).to_contain_text(words["at_risk"])

    # postpone the unassigned job with a reason
    first = card(page, loose)
    first.locator("summary", has_text=words["postpone_open"]).click()
    first.get_by_label(words["reason"]).fill("replacement bearing arrives Thursday")
    first.get_by_role("button", name=words["postpone"], exact=True).click()
    expect(card(page, loose)).to_contain_text(words["postponed"])
    job = stack.api(f"/api/work-orders/{loose}")
    assert job["postponements"] == 1

    # a second postponement: refused, in the service's words, and nothing changes
    again = card(page, loose)
    again.locator("summary", has_text=words["postpone_open"]).click()
    again.get_by_label(words["reason"]).fill("the bearing is late")
    again.get_by_role("button", name=words["postpone"], exact=True).click()
    expect(again.get_by_role("alert")).to_contain_text(words["refused"])
    expect(again.get_by_role("alert")).to_contain_text(REFUSAL)
    assert stack.api(f"/api/work-orders/{loose}")["resolve_due_at"] == job["resolve_due_at"]
    shot(page, f"board-refused-{name}")

    # reassign the job at risk from Tech One to Tech Two
    risky = card(page, late)
    risky.get_by_label(words["assign_to"]).select_option(label="Tech Two")
    risky.get_by_role("button", name=words["reassign"]).click()
    expect(card(page, late)).to_contain_text("Tech Two")
    assert stack.api(f"/api/work-orders/{late}")["assignee"]["username"] == "tech2"
    check_accessible_basics(page)


ENGLISH = {
    "nav": "Board",
    "title": "Supervisor board",
    "unassigned": "Unassigned",
    "at_risk": "At risk",
    "postpone_open": "Postpone…",
    "postpone": "Postpone",
    "reason": "Why postpone?",
    "postponed": "postponed once",
    "refused": "Refused:",
    "assign_to": "Assign to",
    "reassign": "Reassign",
}

CHINESE = {
    "nav": "看板",
    "title": "主管看板",
    "unassigned": "未派单",
    "at_risk": "即将超时",
    "postpone_open": "延期…",
    "postpone": "延期",
    "reason": "延期原因",
    "postponed": "已延期一次",
    "refused": "被拒绝",
    "assign_to": "派给",
    "reassign": "改派",
}


def test_the_board_in_english(stack: Stack, tmp_path: Path) -> None:
    loose, late = jobs(stack, tmp_path)
    with chromium() as browser:
        page = new_page(browser, DESK)
        errors = page_errors(page)

        sign_in(page, stack, "tech1")
        expect(page.get_by_role("link", name="Board")).to_have_count(0)
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, stack, "super1")
        work_the_board(page, stack, {**ENGLISH, "loose": loose, "late": late}, "en")
        shot(page, "board-desk")
        page.set_viewport_size(PHONE)
        expect(card(page, late)).to_be_visible()
        assert small_targets(page) == []
        shot(page, "board-phone")
        assert errors == []


def test_the_board_in_chinese(stack: Stack, tmp_path: Path) -> None:
    loose, late = jobs(stack, tmp_path)
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE, device_scale_factor=1, locale="zh-CN")
        page.add_init_script("localStorage.setItem('plantroom.lang', 'zh-CN')")
        page.set_default_timeout(WAIT_MS)
        errors = page_errors(page)
        sign_in(page, stack, "super1")
        work_the_board(page, stack, {**CHINESE, "loose": loose, "late": late}, "zh-CN")
        assert small_targets(page) == []
        shot(page, "board-zh-CN")
        assert errors == []
