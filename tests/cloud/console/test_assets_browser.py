"""The asset register in Debian's Chromium against the real cloud process: a supervisor adds
a register-only asset from the equipment list, lands on its page (no telemetry section),
fills in its register, imports a CSV file with a bad row (refused, every problem shown,
nothing kept), then the corrected file; a technician sees the register of a connected pump and
cannot change it; a warranty is marked expired from the day after its end at the site.
Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stack.services import Influxd, Mosquitto
from tests.cloud.console.browser import (
    WAIT_MS,
    Stack,
    check_accessible_basics,
    chromium,
    expect,
    launch,
    new_page,
    running_cloud,
    shot,
    sign_in,
)
from tests.harness import request

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.integration, pytest.mark.browser]

GOOD = (
    "id,kind,building,name,make,model,warranty_end\n"
    "ext-a1,extinguisher,tower-a,Lobby extinguisher,Amerex,B500,2029-05-01\n"
)
BAD = GOOD + "tank-a1,water_tank,tower-z,Roof tank,,,\n"


def test_a_supervisor_registers_assets_and_a_technician_reads_them(
    stack: Stack, tmp_path: Path
) -> None:
    with playwright.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(WAIT_MS)
        sign_in(page, stack, "super1", "/#/equipment")
        page.get_by_text("Add an asset without a connection").click()
        page.get_by_label("Id (on its QR label)").fill("gen-a1")
        page.get_by_label("Kind", exact=True).select_option("generator")
        page.get_by_label("Building", exact=True).fill("tower-a")
        page.get_by_label("Name", exact=True).fill("Stand-by generator")
        page.get_by_role("button", name="Add the asset").click()

        expect(page).to_have_url(f"{stack.url}/#/equipment/gen-a1?site={stack.site}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Stand-by generator (gen-a1)")
        expect(page.locator(".facts")).to_contain_text("Register only, no telemetry")
        expect(page.locator(".facts")).not_to_contain_text("Status")  # it has none
        expect(page.get_by_role("heading", name="Latest values")).to_be_hidden()
        page.get_by_text("Change the register").click()
        page.get_by_label("Make", exact=True).fill("Cummins")
        page.get_by_label("Model", exact=True).fill("C550 D5")
        page.get_by_label("Warranty ends on").fill("2020-01-31")
        page.get_by_label("Documents", exact=True).fill("Manual <https://example.com/c550.pdf>")
        page.get_by_role("button", name="Save").click()
        facts = page.locator(".facts")
        expect(facts).to_contain_text("Cummins C550 D5")
        expect(facts).to_contain_text("2020-01-31 (expired)")
        expect(facts.get_by_role("link", name="Manual")).to_have_attribute(
            "href", "https://example.com/c550.pdf"
        )
        check_accessible_basics(page)
        shot(page, "asset-register-only")

        bad, good = tmp_path / "bad.csv", tmp_path / "assets.csv"
        bad.write_text(BAD, encoding="utf-8")
        good.write_text(GOOD, encoding="utf-8")
        page.goto(stack.url + "/#/equipment")
        page.get_by_text("Import a CSV file").click()
        page.get_by_label("CSV file (UTF-8)").set_input_files(str(bad))
        page.get_by_role("button", name="Import", exact=True).click()
        outcome = page.locator(".import-outcome")
        expect(outcome).to_contain_text("bad.csv:3: building: 'tower-z' is not a building")
        assert stack.api("/api/assets?connected=false")["total"] == 1  # nothing of it kept
        page.get_by_label("CSV file (UTF-8)").set_input_files(str(good))
        page.get_by_role("button", name="Import", exact=True).click()
        expect(outcome).to_have_text("Rows read: 1. Added 1, updated 0, unchanged 0.")
        expect(page.locator("#alert")).to_be_hidden()  # the refusal's notice is gone
        expect(page.get_by_role("link", name="Lobby extinguisher")).to_be_visible()
        shot(page, "asset-register-list")
        browser.close()

        browser = launch(p)
        page = browser.new_page(viewport={"width": 360, "height": 640})
        page.set_default_timeout(WAIT_MS)
        sign_in(page, stack, "tech1", "/#/equipment/pump-a1")
        changed = page.request.patch(  # the supervisor's register of the pump, over the API
            f"{stack.url}/api/assets/pump-a1",
            data={"make": "Grundfos", "serial": "GF-1"},
            headers={"Authorization": f"Bearer {stack.token('super1')}"},
        )
        assert changed.ok, changed.text()
        page.reload()
        expect(page.locator(".facts")).to_contain_text("Grundfos")
        expect(page.locator(".facts")).to_contain_text("GF-1")
        expect(page.get_by_role("heading", name="Latest values")).to_be_visible()
        expect(page.get_by_text("Change the register")).to_have_count(0)
        shot(page, "asset-register-pump-phone")
        browser.close()


def test_a_warranty_is_expired_from_the_day_after_its_end_at_the_site(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    """At 04:00 on 1 April in Hong Kong (20:00 on 31 March in UTC, the browser's clock set so)
    a warranty that ended on 31 March is expired and one that ends on 1 April is not."""
    unique = uuid.uuid4().hex[:8]
    with (
        running_cloud(
            tmp_path,
            mosquitto,
            influxd,
            site=f"wr-{unique}",
            database=f"wr_{unique}",
            zone="Asia/Hong_Kong",
        ) as stack,
        chromium() as browser,
    ):
        page = new_page(browser)
        page.clock.set_fixed_time(datetime(2026, 3, 31, 20, 0, tzinfo=UTC))
        sign_in(page, stack, "tech1", "/#/equipment/pump-a1")
        facts = page.locator(".facts")
        for end, shown in (("2026-03-31", "2026-03-31 (expired)"), ("2026-04-01", "2026-04-01")):
            changed = request(
                "PATCH",
                f"{stack.url}/api/assets/pump-a1",
                json={"warranty_end": end},
                headers=stack.auth("super1"),
                timeout=5,
            )
            assert changed.is_success, changed.text
            page.reload()
            expect(facts).to_contain_text(shown)
        expect(facts).not_to_contain_text("expired")
