# ruff: noqa: RUF001  (the Chinese page text is written with full-width punctuation)
"""The public report and tracking pages in a real browser (Debian's Chromium driven by
Playwright) at phone size, served by uvicorn: an occupant reports a flickering light in
Simplified Chinese with a photo, switches the page to English, another reports a sticking
door in English; a technician sees the first reporter masked on the job's console page; once
the job is resolved the first follows the link and confirms the fix. On a service too busy
for a moment (503 with Retry-After), a report and its tracking page are asked again, not
failed. Screenshots go to test-artifacts/requests/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloud.app import create_app
from cloud.enums import Role
from cloud.users.demo import ensure_demo_teams
from tests.cloud.console.browser import chromium, expect, new_page, page_errors
from tests.cloud.harness import camera_jpeg, over_http, settings_for, signed_up
from tests.harness import REPO, request

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = REPO / "test-artifacts" / "requests"


@dataclass
class Site:
    url: str
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str, **kw: Any) -> Any:
        response = request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=10,
            **kw,
        )
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = settings_for(tmp_path, "service-desk")
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    with over_http(app) as (host, port):
        state = app.state.cloud
        tokens = signed_up(state, {"tech1": Role.TECHNICIAN, "desk1": Role.DISPATCHER})
        with state.database().session() as session:
            ensure_demo_teams(session, now=state.clock())
        yield Site(f"http://{host}:{port}", tokens)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_occupants_report_follow_and_confirm_on_a_phone(site: Site, tmp_path: Path) -> None:
    photo = tmp_path / "light.jpg"
    photo.write_bytes(camera_jpeg((2400, 1200)))
    with chromium() as browser:
        zh, en = new_page(browser, locale="zh-CN"), new_page(browser)
        errors = page_errors(zh), page_errors(en)
        reference = report_in_chinese(zh, site, photo)
        report_in_english(en, site)
        technician_sees_the_reporter_masked(en, site, reference)
        confirm_in_chinese(zh, site, reference)
        assert errors == ([], [])


def report_in_chinese(page: Any, site: Site, photo: Path) -> str:
    page.goto(site.url + "/report/l1")
    expect(page.get_by_role("heading", level=1)).to_have_text("报修")
    expect(page.locator("#where")).to_have_text("Corridor lights，b1 楼")
    expect(page.get_by_label("问题类型")).to_have_value("lighting")
    page.get_by_label("问题描述").fill("三楼走廊的灯一直闪")
    page.get_by_label("具体位置").fill("三楼电梯口")
    page.get_by_label("照片（可选）").set_input_files(str(photo))
    expect(page.locator("#preview")).to_be_visible()
    page.get_by_label("姓名").fill("李伟")
    page.get_by_label("电话").fill("+86 138 0013 8000")
    shot(page, "report-zh")
    page.get_by_role("button", name="提交报修").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#done")).to_contain_text("谢谢！我们已收到您的报修。")
    reference: str = page.locator("#reference").inner_text()
    assert len(reference) >= 22
    shot(page, "sent-zh")
    page.get_by_role("button", name="English").click()
    expect(page.locator("#done")).to_contain_text("Thank you. Your report is received.")
    shot(page, "sent-en")
    page.get_by_role("button", name="中文").click()  # back, and remembered
    stored = site.call("GET", "/api/requests", "desk1")["items"][0]
    assert stored["has_photo"] and stored["name"] == "李伟" and stored["place"] == "三楼电梯口"
    return reference


def report_in_english(page: Any, site: Site) -> str:
    """A sticking door reported in English at building b2; returns the reference given."""
    page.goto(site.url + "/report/b2")
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a problem")
    expect(page.locator("#where")).to_have_text("Building b2 (common areas)")
    page.get_by_label("What kind of problem").select_option("door")
    page.get_by_label("What is wrong").fill("The lobby door does not close")
    page.get_by_label("Your name").fill("Sam")
    page.get_by_label("E-mail").fill("sam@example.com")
    page.get_by_role("button", name="Send report").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#done")).to_contain_text("Your report is received")
    shot(page, "sent-en-common-area")
    return str(page.locator("#reference").inner_text())


def technician_sees_the_reporter_masked(page: Any, site: Site, reference: str) -> None:
    rows = site.call("GET", "/api/requests", "desk1")["items"]
    job_id = next(r["work_order_id"] for r in rows if r["reference"] == reference)
    page.goto(site.url + "/")
    page.get_by_label("API token", exact=True).fill(site.tokens["tech1"])
    page.get_by_role("button", name="Sign in with token").click()
    page.goto(f"{site.url}/#/jobs/{job_id}")
    section = page.locator("section[aria-labelledby=reporters-h]")
    expect(section).to_be_visible()
    expect(section.get_by_role("heading")).to_have_text("Reported by 1 person")
    expect(section).to_contain_text("李•••")
    expect(section).to_contain_text("•••8000")
    assert "0013" not in section.inner_text()
    shot(page, "console-job-reporters-masked")


def confirm_in_chinese(page: Any, site: Site, reference: str) -> None:
    rows = site.call("GET", "/api/requests", "desk1")["items"]
    number = next(r["work_order"] for r in rows if r["reference"] == reference)
    for action, body in (
        ("acknowledge", None),
        ("start", None),
        ("resolve", {"note": "换了镇流器"}),
    ):
        site.call("POST", f"/api/work-orders/{number}/{action}", "tech1", json=body)
    page.locator("#track").click()
    expect(page.locator("#stage")).to_have_text("已维修，请确认")
    expect(page.locator("#ask")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("维修已完成")
    shot(page, "track-zh-asking")
    page.get_by_role("button", name="已解决").click()
    expect(page.locator("#stage")).to_have_text("已关闭")
    expect(page.locator("#answered")).to_have_text("您已确认维修完成，谢谢！")
    shot(page, "track-zh-confirmed")
    job = site.call("GET", f"/api/work-orders/{number}", "desk1")
    assert job["status"] == "closed"


def turn_away(route: Any) -> None:
    """The API's answer when it is full (cloud.api.admission), given before any work."""
    body = {"error": {"code": "overloaded", "message": "the API is serving all it can"}}
    route.fulfill(status=503, headers={"Retry-After": "1"}, body=json.dumps(body))


def test_a_report_and_its_tracking_page_on_a_busy_service(site: Site) -> None:
    sent: list[str] = []
    with chromium() as browser:
        page = new_page(browser)
        errors = page_errors(page)
        page.on("request", lambda r: sent.append(f"{r.method} {r.url.split('/api/')[-1]}"))
        page.route("**/api/public/locations/**", turn_away, times=1)
        page.route("**/api/public/requests", turn_away, times=2)
        reference = report_in_english(page, site)
        expect(page.locator("#error")).to_be_hidden()
        assert len(reference) >= 22, reference

        page.route(f"**/api/public/requests/{reference}", turn_away, times=1)
        page.goto(f"{site.url}/track/{reference}")
        expect(page.locator("#stage")).to_have_text("Received")
        expect(page.locator("#error")).to_be_hidden()
        assert errors == []
    # each turned away, then asked again: one report stored
    assert sent.count("POST public/requests") == 3, sent
    assert sent.count(f"GET public/requests/{reference}") == 2, sent
    rows = site.call("GET", "/api/requests", "desk1")["items"]
    assert [r["reference"] for r in rows] == [reference]
