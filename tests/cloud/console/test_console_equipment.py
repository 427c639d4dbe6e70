"""A QR label scanned on a phone (360 by 640, Debian's Chromium): the label sheet is made for
the test site, rendered and read back with zbarimg; its URL opens the sign-in and then that
equipment's page, where the technician acknowledges and shelves the pump's alarm and reports a
problem; then the same page in Chinese. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plantroom.inventory import load_inventory
from stack.labels import write_sheet
from tests.cloud.console.browser import (
    SMALL_PHONE,
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
from tests.harness import qr_codes, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def label_url(tmp_path: Path, stack: Stack, equipment_id: str) -> str:
    sheet = tmp_path / "labels" / "labels.pdf"
    sheet.parent.mkdir()
    write_sheet(load_inventory(tmp_path / "site.yaml"), "tower-a", stack.url, sheet)
    urls = qr_codes(sheet, sheet.parent)
    return next(u for u in urls if f"/equipment/{equipment_id}?" in u)


def test_a_scanned_label_opens_the_equipment_page(stack: Stack, tmp_path: Path) -> None:
    url = label_url(tmp_path, stack, "pump-a1")
    assert url == f"{stack.url}/equipment/pump-a1?site={stack.site}"

    def raised() -> bool:
        stack.pump(dry_run=True, speed=1450, discharge_pressure=0.4)
        return bool(stack.api("/api/alarms?equipment_id=pump-a1")["total"])

    wait_for(raised, "the dry-run alarm", within=20, interval=1.0)
    (alarm,) = stack.api("/api/alarms?equipment_id=pump-a1")["items"]
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE, scale=2)
        work_the_equipment_page(page, stack, url, alarm)
        chinese = browser.new_context(viewport=SMALL_PHONE, device_scale_factor=2, locale="zh-CN")
        chinese.add_init_script("localStorage.setItem('plantroom.lang', 'zh-CN')")
        zh = chinese.new_page()
        zh.set_default_timeout(WAIT_MS)
        zh.goto(url)
        sign_in(zh, stack, "tech1", None)
        expect(zh.get_by_role("heading", name="未完成工单")).to_be_visible()
        expect(zh.get_by_role("heading", name="最近报警")).to_be_visible()
        expect(zh.get_by_role("button", name="恢复")).to_be_visible()
        expect(zh.get_by_role("heading", name="报告问题")).to_be_visible()
        expect(zh.locator("section[aria-labelledby='eq-alarms-h'] li.card")).to_contain_text(
            "搁置至"
        )
        shot(zh, "equipment-zh-CN")


def work_the_equipment_page(page: Any, stack: Stack, url: str, alarm: dict[str, Any]) -> None:
    errors = page_errors(page)
    page.goto(url)  # not signed in: the sign-in first, then the page the label named
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    sign_in(page, stack, "tech1", None)
    expect(page.get_by_role("heading", level=1)).to_contain_text("pump-a1")
    assert page.url.endswith(f"/#/equipment/pump-a1?site={stack.site}")
    card = page.locator(f"section[aria-labelledby='eq-alarms-h'] li.card[data-key='{alarm['id']}']")
    expect(card).to_contain_text("Pump running dry")
    expect(page.locator("section[aria-labelledby='eq-jobs-h'] li.card")).to_have_count(1)
    check_accessible_basics(page)
    shot(page, "equipment-from-label")

    card.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#alert")).to_be_hidden()
    expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert stack.api(f"/api/alarms/{alarm['id']}")["acknowledged_by"] == "tech1"

    card.get_by_text("Shelve…").click()
    card.get_by_label("Shelve for").select_option("240")
    card.get_by_label("Reason").fill("pump isolated for the seal change")
    shot(page, "equipment-shelve")
    card.get_by_role("button", name="Shelve the alarm").click()
    expect(card).to_contain_text("Shelved by tech1 until")
    expect(card).to_contain_text("pump isolated for the seal change")
    shelved = stack.api(f"/api/alarms/{alarm['id']}")
    assert shelved["shelved_by"] == "tech1" and shelved["shelved_until"] is not None
    shot(page, "equipment-shelved")

    page.get_by_label("What is wrong").fill("Water on the plant room floor")
    page.get_by_label("Details (optional)").fill("Near the pump's base, about a metre wide")
    public = f"/report/pump-a1?site={stack.site}"  # the occupants' page of this site's pump
    expect(page.get_by_role("link", name=public)).to_have_attribute("href", public)
    page.get_by_role("button", name="Report the problem").click()
    page.wait_for_url("**/#/jobs/*")
    jobs = stack.api("/api/work-orders?equipment_id=pump-a1")["items"]
    (reported,) = [j for j in jobs if j["title"] == "Water on the plant room floor"]
    assert page.url.endswith(f"/#/jobs/{reported['number']}")
    assert reported["building"] == "tower-a" and reported["status"] == "open"
    assert errors == []
