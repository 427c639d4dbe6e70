"""The console in Chinese and in English on a 360 by 640 phone (Debian's Chromium) against the
real stack: a first visit opens in the browser's language; the jobs list, a job, the
equipment page (values with their units, the chart's unit), the alarms, on call and the
board are in that language, with times in the site's time zone (UTC here; the browser is
in Los Angeles) and tap targets of at least 44 px; the switch in the header saves the
language in the profile, and the profile's choice then wins on another device.
Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.cloud.console.browser import (
    ARTIFACTS,
    SMALL_PHONE,
    WAIT_MS,
    Stack,
    check_accessible_basics,
    chromium,
    expect,
    page_errors,
    shot,
    sign_in,
)
from tests.harness import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

BROWSER_ZONE = "America/Los_Angeles"  # the site is in UTC: times must not follow the browser

ZH = {
    "lang": "zh-CN",
    "sign_in": "登录",
    "nav": ["工单", "报警", "设备", "值班", "看板"],
    "mine": "我的工单",
    "open_status": "待接单",
    "normal": "一般",
    "respond": "响应期限",
    "history": "处理记录",
    "created": "创建",
    "values": "最新数值",
    "pressure": "出口压力",
    "pressure_value": "3.4 bar",
    "speed_value": "1,450 r/min",
    "chart": "出口压力（bar），最近 24 小时",  # noqa: RUF001 (Chinese punctuation)
    "alarms_show": ["未恢复", "已恢复", "全部"],
    "major": "严重",
    "active": "未恢复",
    "shelve": "搁置…",
    "dry_run": ("干转保护", "是"),
    "dry_run_alarm": "水泵干转（干转保护：是）",  # noqa: RUF001 (Chinese punctuation)
    "first_told": "派单通知（首次通知）",  # noqa: RUF001 (Chinese punctuation)
    "manifest": "/manifest.webmanifest?lang=zh",
    "run_state": ("运行状态", "运行"),
    "oncall": "当前值班",
    "board": "主管看板",
    "switch": "English",
}
EN = {
    "lang": "en",
    "sign_in": "Sign in",
    "nav": ["Jobs", "Alarms", "Equipment", "On call", "Board"],
    "mine": "My jobs",
    "open_status": "open",
    "normal": "normal",
    "respond": "Respond by",
    "history": "History",
    "created": "created",
    "values": "Latest values",
    "pressure": "discharge pressure",
    "pressure_value": "3.4 bar",
    "speed_value": "1,450 rpm",
    "chart": "discharge pressure (bar), last 24 hours",
    "alarms_show": ["Active", "Cleared", "All"],
    "major": "major",
    "active": "active",
    "shelve": "Shelve…",
    "dry_run": ("dry run", "on"),
    "dry_run_alarm": "Pump running dry (dry_run=true)",
    "first_told": "dispatched (first told)",
    "manifest": "/manifest.webmanifest?lang=en",
    "run_state": ("run state", "running"),
    "oncall": "On call now",
    "board": "Supervisor board",
    "switch": "中文",
}


def profile(stack: Stack, username: str) -> dict[str, Any]:
    body: dict[str, Any] = stack.api("/api/me/profile", username)
    return body


def new_job(stack: Stack) -> dict[str, Any]:
    job = {"title": "Pump A1 gland dripping", "equipment_id": "pump-a1", "priority": "normal"}
    created: dict[str, Any] = stack.post("/api/work-orders", job, "tech1")
    return created


def running_dry(stack: Stack) -> None:
    """A sample from pump-a1, as its edge agent would send it: running dry (an alarm)."""

    def seen() -> bool:
        stack.pump(discharge_pressure=3.4, speed=1450, dry_run=True, run_state="running")
        values = stack.api("/api/equipment/pump-a1")["last_values"]
        alarms = stack.api("/api/alarms?equipment_id=pump-a1&state=active")["total"]
        return bool(values.get("discharge_pressure") == 3.4 and alarms)

    wait_for(seen, "pump-a1's latest values and its dry-run alarm", within=20, interval=1.0)


def small_targets(page: Any) -> list[str]:
    """Controls less than 44 px high (or, for links and buttons, wide) that can be tapped."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll(
             'button, select, input:not([type=checkbox]):not([type=radio]), textarea,'
             + ' summary, nav a, label.choice')]
           .filter((el) => el.offsetParent !== null)
           .filter((el) => {
             const box = el.getBoundingClientRect();
             return box.height < 44 || (el.matches('button, nav a') && box.width < 44);
           })
           .map((el) => el.outerHTML.slice(0, 80))"""
    )
    return found


def times_at_the_site(page: Any) -> None:
    """Every <time> says its instant's time of day in UTC (the site's zone), and where the
    browser's own zone would say another, not that one."""
    wrong: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('main time')].filter((el) => {
             const at = new Date(el.dateTime);
             const hm = (zone) => new Intl.DateTimeFormat(navigator.language,
               { timeZone: zone, hour: '2-digit', minute: '2-digit' }).format(at);
             const [site, own, text] = [hm('UTC'), hm(undefined), el.textContent];
             return !text.includes(site) || (site !== own && text.includes(own));
           }).map((el) => el.dateTime + ' shown as ' + el.textContent)"""
    )
    assert page.locator("main time").count() > 0
    assert wrong == []


def wider_than_the_screen(page: Any) -> list[str]:
    """Elements that reach past the right edge of the screen (the page would scroll sideways)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
           .filter((el) => el.checkVisibility())  // not what a closed <details> holds
           .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
           .map((el) => el.outerHTML.slice(0, 80))"""
    )
    return found


def check_page(page: Any, name: str) -> None:
    check_accessible_basics(page)
    assert small_targets(page) == [], name
    assert wider_than_the_screen(page) == [], name
    shot(page, name)


def tour(page: Any, stack: Stack, words: dict[str, Any], job: dict[str, Any]) -> None:
    """The console's pages in one language, as a supervisor sees them."""
    lang = words["lang"]
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("link[rel=manifest]")).to_have_attribute("href", words["manifest"])
    nav = page.locator("#nav")
    for text in words["nav"]:
        expect(nav.get_by_role("link", name=text, exact=True)).to_be_visible()
    nav_text = nav.inner_text()
    if lang != "en":
        assert re.search(r"[A-Za-z]", nav_text) is None, nav_text  # no English left in the nav
    expect(page.locator("#mine-h")).to_contain_text(words["mine"])
    card = page.locator(f"li.card[data-key='{job['id']}']")
    expect(card.locator(".badge.status-open")).to_have_text(words["open_status"])
    expect(card.locator(".badge.priority-normal")).to_have_text(words["normal"])
    expect(card.locator(".due")).to_contain_text(words["respond"])
    times_at_the_site(page)
    check_page(page, f"i18n-jobs-{lang}")

    wait_for(
        lambda: stack.api(f"/api/work-orders/{job['id']}/notifications"),
        "the job's dispatch to the outbox",
        within=20,
    )
    card.get_by_role("link", name=job["title"]).click()
    expect(page.get_by_role("heading", name=words["history"], level=2)).to_be_visible()
    expect(page.locator(".timeline li").first).to_contain_text(words["created"])
    times_at_the_site(page)
    check_page(page, f"i18n-job-{lang}")
    # the messages the job sent: what each was (its stage) in words, on the phone's screen
    messages = page.locator("section[aria-labelledby='messages-h']")
    expect(messages.locator("li .meta").first).to_contain_text(words["first_told"])
    messages.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / f"i18n-job-messages-{lang}.png"))

    page.goto(f"{stack.url}/#/equipment/pump-a1")
    values = page.locator("table.values")
    expect(page.get_by_role("heading", name=words["values"], level=2)).to_be_visible()
    pressure = values.locator("tr").filter(has_text=words["pressure"])
    expect(pressure.locator("td")).to_have_text(words["pressure_value"])
    expect(values).to_contain_text(words["speed_value"])
    for point in ("dry_run", "run_state"):  # on/off, and a state, in words
        name, state = words[point]
        expect(values.locator("tr").filter(has_text=name).locator("td")).to_have_text(state)
    expect(page.locator("p.chart-title")).to_have_text(words["chart"])
    expect(page.locator("svg.chart text.axis-unit")).to_have_text("bar")
    check_page(page, f"i18n-equipment-{lang}")

    nav.get_by_role("link", name=words["nav"][1], exact=True).click()
    for text in words["alarms_show"]:
        expect(page.get_by_label(text, exact=True)).to_be_visible()
    alarm = page.locator("li.card").filter(has_text="pump-a1").first
    expect(alarm.locator(".badge.severity-major")).to_have_text(words["major"])
    expect(alarm.locator(".badge.alarm-active")).to_have_text(words["active"])
    expect(alarm.locator(".card-title")).to_have_text(words["dry_run_alarm"])
    expect(alarm.locator("summary")).to_have_text(words["shelve"])
    times_at_the_site(page)
    check_page(page, f"i18n-alarms-{lang}")

    nav.get_by_role("link", name=words["nav"][3], exact=True).click()
    expect(page.get_by_role("heading", name=words["oncall"], level=1)).to_be_visible()
    expect(page.locator("li.card").first).to_be_visible()
    check_page(page, f"i18n-oncall-{lang}")

    nav.get_by_role("link", name=words["nav"][4], exact=True).click()
    expect(page.get_by_role("heading", name=words["board"], level=1)).to_be_visible()
    expect(page.locator(f"li.card[data-number='{job['number']}']")).to_be_visible()
    check_page(page, f"i18n-board-{lang}")


def first_visit(browser: Any, stack: Stack, locale: str) -> Any:
    context = browser.new_context(
        viewport=SMALL_PHONE, device_scale_factor=1, locale=locale, timezone_id=BROWSER_ZONE
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.url + "/")
    return page


def switch(page: Any, words: dict[str, Any], then: dict[str, Any]) -> None:
    button = page.locator("#language")
    expect(button).to_contain_text(words["switch"])
    button.click()
    expect(page.locator("html")).to_have_attribute("lang", then["lang"])
    nav = page.locator("#nav")
    expect(nav.get_by_role("link", name=then["nav"][0], exact=True)).to_be_visible()


@pytest.mark.parametrize(
    ("locale", "words", "other"), [("zh-CN", ZH, EN), ("en-GB", EN, ZH)], ids=["zh", "en"]
)
def test_the_console_in_the_browsers_language_and_the_profiles(
    stack: Stack, locale: str, words: dict[str, Any], other: dict[str, Any]
) -> None:
    stack.told_at_any_hour()  # the job's messages are looked at: sent now, by day or night
    job = new_job(stack)
    running_dry(stack)
    code = "zh" if words is ZH else "en"
    with chromium() as browser:
        page = first_visit(browser, stack, locale)
        errors = page_errors(page)
        expect(page.get_by_role("heading", name=words["sign_in"], level=1)).to_be_visible()
        check_page(page, f"i18n-sign-in-{words['lang']}")

        # the first visit: the browser's language, recorded in the profile, not chosen
        sign_in(page, stack, "super1", None)
        wait_for(lambda: profile(stack, "super1")["language"] == code, "the language kept")
        assert profile(stack, "super1")["language_chosen"] is False
        tour(page, stack, words, job)

        # the switch: the other language, chosen in the profile (messages follow it)
        switch(page, words, other)
        chosen = profile(stack, "super1")
        assert chosen["language_chosen"] is True and chosen["language"] != code
        shot(page, f"i18n-switched-to-{other['lang']}")
        assert errors == []

        # another phone in the browser's language: the profile's choice wins
        second = first_visit(browser, stack, locale)
        sign_in(second, stack, "super1", None)
        expect(second.locator("html")).to_have_attribute("lang", other["lang"])
        expect(
            second.locator("#nav").get_by_role("link", name=other["nav"][0], exact=True)
        ).to_be_visible()
        shot(second, f"i18n-profile-wins-{other['lang']}")
