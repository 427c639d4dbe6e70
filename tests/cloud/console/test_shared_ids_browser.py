"""Two sites whose pumps share the id `pump-1`, in one service on PostgreSQL, in Debian's
Chromium on a 360x640 phone (docs/sites.md, docs/console.md): an admin of every site opens
both pumps' pages from the equipment list, in English and in Chinese, and sees each site's
own values and jobs; an address without the site offers the two; a technician of north opens
`#/equipment/pump-1` and sees north's; the report page of south's label files a request that
lands on south's pump. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloud.alarms.model import Alarm
from cloud.enums import AlarmState, EquipmentStatus, Severity
from cloud.equipment import Equipment
from tests.cloud.console.browser import (
    SMALL_PHONE,
    catalog,
    check_accessible_basics,
    chromium,
    expect,
    new_page,
    page_errors,
    raise_job,
    serving_portfolio,
    shot,
    sign_in_with,
)
from tests.harness import request

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# each site's pump-1: its speed as last reported, and the job on it
SPEED = {"north": 1234.0, "south": 987.0}
JOB = {"north": "North pump-1 is leaking", "south": "South pump-1 rattles"}
ALARM = {"north": "North pump-1 runs hot", "south": "South pump-1 runs dry"}


@dataclass
class Service:
    url: str
    tokens: dict[str, str]

    def get(self, path: str, who: str = "boss") -> Any:
        resp = request(
            "GET",
            self.url + path,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=5,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture
def service(tmp_path: Path, schema_url: str) -> Iterator[Service]:
    """The app serving north and south, each with a `pump-1`, on PostgreSQL over HTTP: each
    pump with its last values and an active alarm (as the telemetry and its rules left them)
    and a job."""
    pumps = {"north_pump": "pump-1", "south_pump": "pump-1"}
    with serving_portfolio(tmp_path, schema_url, **pumps) as (state, url, tokens):
        with state.database().session() as session:
            for site, speed in SPEED.items():
                pump = session.get_one(Equipment, (site, "pump-1"))
                pump.last_values = {"speed": speed}
                pump.last_seen = state.clock()
                pump.status = EquipmentStatus.ONLINE
                session.add(
                    Alarm(
                        site=site,
                        equipment_id="pump-1",
                        rule_id="pump.dry_run",
                        severity=Severity.MAJOR,
                        state=AlarmState.ACTIVE,
                        message=ALARM[site],
                        last_value={"speed": speed},
                        raised_at=state.clock(),
                        last_raised_at=state.clock(),
                    )
                )
            session.commit()
        for site, title in JOB.items():
            job = {"title": title, "equipment_id": "pump-1", "site": site}
            assert raise_job(url, tokens["boss"], job)["site"] == site
        yield Service(url, tokens)


def sign_in(page: Any, service: Service, who: str, where: str) -> None:
    sign_in_with(page, service.url, service.tokens[who], f"/{where}")


def sees_the_pump_of(page: Any, site: str, words: dict[str, str], *, named: bool) -> None:
    """The page shows `site`'s pump-1: its speed and its job, not the other site's; with the
    site's name among the facts when `named`."""
    other = "south" if site == "north" else "north"
    expect(page.get_by_role("heading", level=1)).to_have_text("pump-1")
    values = page.locator("table.values")
    expect(values).to_contain_text(f"{SPEED[site]:,.0f}")
    expect(values).not_to_contain_text(f"{SPEED[other]:,.0f}")
    jobs = page.locator("section[aria-labelledby='eq-jobs-h']")
    expect(jobs.get_by_text(JOB[site])).to_be_visible()
    expect(jobs.get_by_text(JOB[other])).to_have_count(0)
    alarms = page.locator("section[aria-labelledby='eq-alarms-h']")
    expect(alarms.get_by_text(ALARM[site])).to_be_visible()
    expect(alarms.get_by_text(ALARM[other])).to_have_count(0)
    facts = page.locator(".facts")
    expect(facts.locator("dt", has_text=words["site.label"])).to_have_count(1 if named else 0)
    if named:
        expect(facts.locator("dd", has_text=f"Site {site}")).to_have_count(1)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_admin_of_both_sites_opens_each_pump_1_from_the_list(
    service: Service, lang: str
) -> None:
    words = catalog(lang)
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE, locale="en-GB" if lang == "en" else "zh-CN")
        page.add_init_script(f"localStorage.setItem('plantroom.lang', '{lang}')")
        errors = page_errors(page)
        sign_in(page, service, "boss", "#/equipment")
        expect(page.get_by_label(words["site.label"], exact=True)).to_be_visible()
        for site in ("north", "south"):
            # the list names each building's site, as the caller sees two
            heading = page.locator("h2", has_text=f"Site {site}")
            expect(heading).to_be_visible()
            link = page.locator(f"a[href='#/equipment/pump-1?site={site}']")
            expect(link).to_have_count(1)
            if site == "north":
                shot(page, f"shared-ids-list-{lang}")
            link.click()
            sees_the_pump_of(page, site, words, named=True)
            assert page.url.endswith(f"#/equipment/pump-1?site={site}")
            check_accessible_basics(page)
            shot(page, f"shared-ids-{site}-{lang}")
            if site == "south":
                works_on_south_s_pump(page, service, words)
            page.go_back()
        # the jobs and the alarms say which site's pump-1 each is on
        named = words["site.equipment"].format(id="pump-1", site="Site south")
        for where, text in (("jobs", JOB["south"]), ("alarms", ALARM["south"])):
            page.goto(f"{service.url}/#/{where}")
            card = page.locator("li.card", has_text=text)
            link = card.get_by_role("link", name=named)
            expect(link).to_have_attribute("href", "#/equipment/pump-1?site=south")
            shot(page, f"shared-ids-{where}-{lang}")
        # an address without the site (an older label): the two to choose from
        page.goto(f"{service.url}/#/equipment/pump-1")
        expect(page.get_by_text(words["equipment.which_site"].format(id="pump-1"))).to_be_visible()
        shot(page, f"shared-ids-which-{lang}")
        page.get_by_role("link", name="Site south").click()
        sees_the_pump_of(page, "south", words, named=True)
        assert page.url.endswith("#/equipment/pump-1?site=south")
        assert errors == []


def works_on_south_s_pump(page: Any, service: Service, words: dict[str, str]) -> None:
    """On south's pump-1 page: maintenance started and the register changed are south's."""
    page.locator("#maint-why").fill("seal change")
    page.get_by_role("button", name=words["maintenance.start"]).click()
    expect(page.locator(".in-maintenance")).to_contain_text("seal change")
    (window,) = service.get("/api/maintenance?current=true")
    assert (window["equipment_id"], window["site"]) == ("pump-1", "south")
    page.get_by_text(words["assets.edit"]).click()
    page.get_by_label(words["assets.field.make"], exact=True).fill("Grundfos")
    page.get_by_role("button", name=words["assets.save"], exact=True).click()
    expect(page.locator(".facts")).to_contain_text("Grundfos")
    assert service.get("/api/assets/pump-1?site=south")["make"] == "Grundfos"
    assert service.get("/api/assets/pump-1?site=north")["make"] is None


def test_a_north_technician_opens_pump_1_without_the_site_and_sees_north(
    service: Service,
) -> None:
    words = catalog("en")
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE)
        errors = page_errors(page)
        sign_in(page, service, "tech-n", "#/equipment/pump-1")
        sees_the_pump_of(page, "north", words, named=False)
        expect(page.locator("#site")).to_be_hidden()
        shot(page, "shared-ids-technician")
        # south's page is none of theirs, even with its address
        page.goto(f"{service.url}/#/equipment/pump-1?site=south")
        expect(page.locator("#alert")).to_be_visible()
        expect(page.locator("table.values")).not_to_contain_text(f"{SPEED['south']:,.0f}")
        assert errors == []


def test_the_report_page_of_south_s_label_files_on_south_s_pump(service: Service) -> None:
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE)
        errors = page_errors(page)
        page.goto(f"{service.url}/report/pump-1?site=south")
        expect(page.locator("#where")).to_contain_text("s-tower")
        expect(page.locator("#send")).to_be_enabled()
        page.get_by_label("What is wrong").fill("Water under the pump")
        page.get_by_label("Your name").fill("Sam")
        page.get_by_label("E-mail").fill("sam@example.com")
        page.get_by_role("button", name="Send report").click()
        expect(page.locator("#done")).to_be_visible()
        shot(page, "shared-ids-report-south")
        assert errors == []
    (request,) = service.get("/api/requests")["items"]
    assert (request["equipment_id"], request["building"]) == ("pump-1", "s-tower")
    job = service.get(f"/api/work-orders/{request['work_order_id']}")
    assert (job["equipment_id"], job["site"]) == ("pump-1", "south")
