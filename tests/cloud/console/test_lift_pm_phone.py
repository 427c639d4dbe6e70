# ruff: noqa: RUF001  (the technician writes Chinese, with full-width punctuation)
"""The shipped half-monthly lift visit from end to end, on a phone (360 by 640) in Chinese, in
Debian's Chromium against the real cloud process: the PM scheduler raises the visit; the
technician, whose language is Simplified Chinese, signs in, opens it from the jobs list,
acknowledges and starts it, answers every step (pass, fail and not applicable) with its
readings, one out of limits and raising its follow-up job; works the rest without signal
(steps with readings, a photo carrying a GPS position, a comment) while the header counts what
waits, and sees it all sent once when the signal returns; signs off with a signature drawn on
the pad and resolves. The job is closed with every reading in its record, and the month's
report lists the readings. Screenshots of each screen go to test-artifacts/console/lift-pm/.

Labels are checked against the Chinese catalog on the screens the catalog covers (the job's
checklist, photos, sign-off, comments, and the header's connection and outbox lines); the
rest of each screen is found by its structure, so the test holds as more is translated."""

from __future__ import annotations

import io
import re
from collections import Counter
from typing import Any

import pytest
from PIL import Image

from tests.cloud.console.browser import (
    ARTIFACTS,
    LIFT_PLAN,
    SMALL_PHONE,
    WAIT_MS,
    Stack,
    catalog,
    check_accessible_basics,
    chromium,
    draw_signature,
    expect,
    page_errors,
    raise_lift_visit,
)
from tests.cloud.harness import camera_jpeg, table
from tests.harness import request

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ZH = catalog("zh-CN")
SHOTS = ARTIFACTS / "lift-pm"
SIGNER = "陈大文"
BRAKE_NOTE = "左侧制动瓦衬磨损，间隙超标"
PIT_NOTE = "底坑积水，今日无法进入；已通知物业排水"
COMMENT = "机房照明正常；底坑积水已报物业。"
# what the technician reads, by step position: the brake is out of limits (0.1 to 0.7 mm)
READINGS = {1: 0.9, 2: 12.5, 4: 8.0, 7: -3.0}
ONLINE_STEPS = (0, 1, 2)  # the rest are answered without signal
RESULTS = {1: "fail", 5: "na"}  # every other step passes


def zh(key: str, **values: Any) -> str:
    """The Chinese catalog's text for `key`, its `{placeholders}` filled as the console does."""
    text = ZH[key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def zh_like(key: str, **values: Any) -> re.Pattern[str]:
    """The Chinese text for `key` with the given placeholders filled and any other one
    standing for some text (a time, a job number)."""

    def part(piece: str) -> str:
        name = piece[1:-1] if piece.startswith("{") else None
        if name is None:
            return re.escape(piece)
        return re.escape(str(values[name])) if name in values else ".+"

    return re.compile("".join(part(p) for p in re.split(r"(\{\w+\})", ZH[key])))


def number(value: float) -> str:
    """A number as the console prints it (JavaScript's shortest form: 7, not 7.0)."""
    return f"{value:g}"


def shot(page: Any, name: str, at: Any | None = None, *, whole: bool = False) -> None:
    """The phone's screen as the technician sees it, with `at` scrolled to the top (or the
    whole page, `whole`)."""
    if at is not None:
        at.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=whole)


def untranslated(page: Any) -> list[str]:
    """Texts of the translated parts (the job's work sections and the header's status lines)
    that have Latin letters and no Chinese: English left over. A step's own text is the
    plan's, and a unit is a unit, so neither counts."""
    found: list[str] = page.evaluate(
        """() => {
          const parts = [...document.querySelectorAll(
            'section.work :is(h2, label, legend, button, .hint, .pending, .step-state, .empty,'
            + ' .signed, .card-error), #live, #outbox')];
          const texts = parts.filter((el) => !el.hidden).map((el) => el.textContent.trim());
          for (const el of document.querySelectorAll('section.work [aria-label]')) {
            texts.push(el.getAttribute('aria-label'));
          }
          return texts.filter((t) => /[A-Za-z]{3,}/.test(t) && !/[\\u4e00-\\u9fff]/.test(t));
        }"""
    )
    return found


def fits_a_phone(page: Any) -> None:
    """Nothing wider than the screen, and every control of the job at least 44 px high."""
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"]
    small = page.evaluate(
        """() => [...document.querySelectorAll('.work button, .work input:not(.file), '
                  + '.work textarea, .work .file-button, .job .actions button')]
               .filter((el) => el.getBoundingClientRect().height < 44)
               .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert small == []


@pytest.mark.timeout(300)  # a long scenario: the cloud, a browser and some forty steps
def test_the_half_monthly_lift_visit_on_a_phone_in_chinese(lift: Stack) -> None:
    stack = lift
    # the technician's language in the profile: Simplified Chinese
    chosen = request(
        "PUT",
        f"{stack.url}/api/me/language",
        headers=stack.auth("tech1"),
        json={"language": "zh"},
        timeout=5,
    )
    assert chosen.status_code == 200, chosen.text
    visit = raise_lift_visit(stack)  # the PM scheduler's run raises the visit due today
    assert visit["sign_off_required"] and visit["status"] == "open"
    steps = visit["checklist"]
    assert sorted(i for i, s in enumerate(steps) if s["reading"]) == sorted(READINGS)

    with chromium() as browser:
        context = browser.new_context(
            viewport=SMALL_PHONE,
            device_scale_factor=2,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        # the console's language as chosen on this phone
        context.add_init_script("localStorage.setItem('plantroom.lang', 'zh-CN')")
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors = page_errors(page)
        open_the_visit(page, stack, visit)
        work_online(page, stack, visit, steps)
        work_offline(page, context, steps)
        sign_and_resolve(page, visit)
        check_the_history(page)
        assert errors == []
    check_the_record(stack, visit, steps)


def open_the_visit(page: Any, stack: Stack, visit: dict[str, Any]) -> None:
    page.goto(stack.url + "/")
    page.locator("#token").fill(stack.token("tech1"))
    page.locator("#token").press("Enter")
    expect(page.locator("#live")).to_have_text(zh("live.live"))
    # the console's files are kept on the phone (the service worker controls the page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    card = page.locator("section[aria-labelledby='open-h'] li.card").filter(
        has=page.locator(f"a[href='#/jobs/{visit['id']}']")
    )
    expect(card).to_contain_text(visit["number"])
    expect(card.locator(".badge.status-open")).to_have_count(1)
    assert untranslated(page) == []
    shot(page, "01-jobs")

    card.locator(f"a[href='#/jobs/{visit['id']}']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(visit["number"])
    total = len(visit["checklist"])
    expect(page.locator("#checklist-h")).to_contain_text(zh("checklist.heading"))
    expect(page.locator("#checklist-h")).to_contain_text(
        zh("checklist.progress", done=0, total=total)
    )
    expect(page.locator("#photos-h")).to_have_text(zh("photos.heading"))
    expect(page.locator("#signoff-h")).to_have_text(zh("signoff.heading"))
    expect(page.locator("section.signoff .hint")).to_have_text(zh("signoff.required"))
    expect(page.locator("#comments-h")).to_have_text(zh("comments.heading"))
    check_accessible_basics(page)
    assert untranslated(page) == []
    shot(page, "02-job")

    page.locator(".job .card button[data-action='acknowledge']").click()
    expect(page.locator(".job .card .badge.status-acknowledged")).to_have_count(1)
    page.locator(".job .card button[data-action='start']").click()
    expect(page.locator(".job .card .badge.status-in_progress")).to_have_count(1)


def fill_reading(item: Any, step: dict[str, Any], value: float) -> None:
    field = item.get_by_label(zh("checklist.reading", unit=step["reading"]["unit"]))
    field.fill(number(value))


def answer(page: Any, index: int, step: dict[str, Any]) -> None:
    """Answer step `index` as the plan of this test says, with its reading and note."""
    item = page.locator("ol.steps > li").nth(index)
    if index in READINGS and RESULTS.get(index) != "na":
        fill_reading(item, step, READINGS[index])
    if index == 5:
        item.get_by_label(zh("checklist.note"), exact=True).fill(PIT_NOTE)
    result = RESULTS.get(index, "pass")
    item.get_by_role("button", name=zh(f"checklist.{result}"), exact=True).click()
    expect(
        page.locator("ol.steps > li")
        .nth(index)
        .get_by_role("button", name=zh(f"checklist.{result}"), exact=True)
    ).to_have_attribute("aria-pressed", "true")


def work_online(page: Any, stack: Stack, visit: dict[str, Any], steps: list[Any]) -> None:
    items = page.locator("ol.steps > li")
    expect(items).to_have_count(len(steps))
    answer(page, 0, steps[0])

    # the brake: its limits shown, the reading flagged as it is typed, a failed step needs
    # a note, and once saved it names the follow-up job it raised
    brake = items.nth(1)
    limits = zh("checklist.range", min=0.1, max=0.7, unit="mm")
    expect(brake).to_contain_text(zh("checklist.limits", limits=limits))
    fill_reading(brake, steps[1], READINGS[1])
    expect(brake.locator(".step-state")).to_contain_text(zh("checklist.out_of_limits"))
    brake.get_by_role("button", name=zh("checklist.fail"), exact=True).click()
    expect(brake.get_by_role("alert")).to_have_text(zh("checklist.note_required"))
    brake.get_by_label(zh("checklist.note"), exact=True).fill(BRAKE_NOTE)
    answer(page, 1, steps[1])
    saved = stack.api(f"/api/work-orders/{visit['id']}")["checklist"][1]
    assert saved["out_of_limits"] is True and saved["follow_up_job"], saved
    follow_up = stack.api(f"/api/work-orders/{saved['follow_up_job']}")
    assert follow_up["parent_id"] == visit["id"] and follow_up["equipment_id"] == "lift-a1"
    expect(items.nth(1)).to_contain_text(zh("checklist.follow_up", number=follow_up["number"]))

    # the motor current: no limits, the reading only recorded
    expect(items.nth(2)).to_contain_text(zh("checklist.no_limits"))
    answer(page, 2, steps[2])
    expect(page.locator("#checklist-h")).to_contain_text(
        zh("checklist.progress", done=3, total=len(steps))
    )
    page.get_by_role("heading", level=1).focus()
    fits_a_phone(page)
    assert untranslated(page) == []
    shot(page, "03-checklist-out-of-limits", at=items.nth(1))


def work_offline(page: Any, context: Any, steps: list[Any]) -> None:
    items = page.locator("ol.steps > li")
    context.set_offline(True)
    expect(page.locator("#live")).to_have_text(zh("live.offline"))
    offline = [i for i in range(len(steps)) if i not in ONLINE_STEPS]
    for i in offline:
        answer(page, i, steps[i])
        expect(items.nth(i).locator(".pending")).to_have_text(zh("outbox.not_sent"))
    page.get_by_label(zh("photos.caption")).fill("底坑积水")
    page.set_input_files(
        "#photo-file",
        files=[{"name": "IMG_0815.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}],
    )
    expect(page.locator(".thumbs img")).to_have_count(1)
    expect(page.locator("section.photos .pending")).to_have_text(zh("outbox.not_sent"))
    page.get_by_label(zh("comments.label")).fill(COMMENT)
    page.get_by_role("button", name=zh("comments.submit")).click()
    expect(page.locator(".comment-list")).to_contain_text(COMMENT)
    waiting = len(offline) + 2  # the steps, the photo and the comment
    expect(page.locator("#outbox")).to_have_text(zh("outbox.waiting", n=waiting))
    expect(page.locator("#checklist-h")).to_contain_text(
        zh("checklist.progress", done=len(steps), total=len(steps))
    )
    page.get_by_role("heading", level=1).focus()  # out of the fields: the page may be redrawn
    assert untranslated(page) == []
    shot(page, "04-offline-waiting")
    shot(page, "05-offline-steps", at=items.nth(offline[0]))

    context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden()
    expect(page.locator("#live")).to_have_text(zh("live.live"))
    expect(page.locator(".pending")).to_have_count(0)
    expect(items.nth(7).locator(".meta")).to_have_text(
        zh("checklist.answered", result=zh("checklist.pass"), by="tech1")
    )
    shot(page, "06-synced", at=items.nth(offline[0]))


def sign_and_resolve(page: Any, visit: dict[str, Any]) -> None:
    page.get_by_label(zh("signoff.signer")).fill(SIGNER)
    draw_signature(page, page.get_by_role("img", name=zh("signoff.pad")))
    fits_a_phone(page)
    shot(page, "07-signature", at=page.locator("section.signoff"))
    page.get_by_role("button", name=zh("signoff.submit"), exact=True).click()
    expect(page.locator(".signed")).to_have_text(zh_like("signoff.done", name=SIGNER))
    expect(page.locator("section.signoff img")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text(re.compile(r"\b(null|undefined)\b"))
    shot(page, "08-signed", at=page.locator("section.signoff"))

    page.locator(".job .card button[data-action='resolve']").click()
    form = page.locator("form.note[data-action='resolve']")
    form.locator("textarea").fill("半月保养完成；制动器间隙超标，已生成跟进工单")
    form.locator("button[type='submit']").click()
    finished = page.locator(".job .card :is(.badge.status-closed, .badge.status-resolved)")
    expect(finished).to_have_count(1)
    expect(page.locator(".job .card .actions")).to_have_count(0)
    expect(page.locator("#checklist-h")).to_contain_text(
        zh("checklist.progress", done=len(visit["checklist"]), total=len(visit["checklist"]))
    )
    assert untranslated(page) == []
    shot(page, "09-closed", at=page.get_by_role("heading", level=1))
    shot(page, "10-closed-whole-page", whole=True)


def check_the_history(page: Any) -> None:
    """The job's history in Chinese: the notes the service wrote (the scheduler's reason, each
    step's answer, the sign-off) as well as those the technician typed. (The dispatch's note
    is the notification's sentence, another matter.)"""
    history = page.locator("section[aria-labelledby='history-h']")
    expect(history).to_contain_text(f"已由 {SIGNER} 签字确认")
    expect(history).to_contain_text("保养计划 elevator.routine_maintenance，")
    dispatched = page.locator("strong", has_text=zh("event.dispatched"))
    notes = history.locator("li").filter(has_not=dispatched).locator(".note-text")
    notes = notes.all_text_contents()
    english = [n for n in notes if re.search("[A-Za-z]{3,}", n) and not re.search("[一-鿿]", n)]
    assert notes and english == [], notes
    shot(page, "11-history", at=history)


def check_the_record(stack: Stack, visit: dict[str, Any], steps: list[Any]) -> None:
    job = f"/api/work-orders/{visit['id']}"
    if stack.api(job)["status"] == "resolved":  # a job that waits for the office's check
        stack.post(f"{job}/close", {"channel": "api"}, "super1")
    done = stack.api(job)
    assert done["status"] == "closed" and done["signed_by"] == SIGNER

    # every step answered as it was on the phone, every reading in the record
    for i, (step, saved) in enumerate(zip(steps, done["checklist"], strict=True)):
        assert saved["done"] and saved["by"] == "tech1", saved
        assert saved["result"] == RESULTS.get(i, "pass"), saved
        assert saved["value"] == READINGS.get(i), saved
        assert saved["out_of_limits"] is (None if i not in READINGS else i == 1), saved
        if step["reading"]:
            assert saved["unit"] == step["reading"]["unit"]
    assert done["checklist"][1]["note"] == BRAKE_NOTE and done["checklist"][5]["note"] == PIT_NOTE
    assert [c["text"] for c in done["comments"]] == [COMMENT]
    assert sorted(p["kind"] for p in done["photos"]) == ["photo", "signature"]

    # each action applied once, though the offline ones were kept and sent later
    events = stack.api(f"{job}/audit")
    by_tech = [e for e in events if e["actor"] == "tech1"]
    assert {e["channel"] for e in by_tech} == {"console"}
    actions = Counter(e["action"] for e in by_tech)
    for action in ("acknowledge", "start", "photo", "comment", "sign_off", "resolve"):
        assert actions[action] == 1, actions
    answered = Counter(e["details"]["step"] for e in by_tech if e["action"] == "step")
    assert answered == Counter(range(len(steps))), answered
    (close,) = [e for e in events if e["action"] == "close"]
    assert close["to_status"] == "closed", close

    # the photo taken offline is stored without the position it was taken at
    (photo,) = [p for p in done["photos"] if p["kind"] == "photo"]
    served = request("GET", f"{stack.url}{photo['url']}", headers=stack.auth("tech1"), timeout=5)
    assert served.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in served.content and not Image.open(io.BytesIO(served.content)).getexif()

    check_the_monthly_report(stack, done)


def check_the_monthly_report(stack: Stack, done: dict[str, Any]) -> None:
    """The month's report lists the visit's readings: one per step, the brake's out of limits
    with the visit's number and its follow-up job."""
    month = done["checklist"][1]["at"][:7]  # the month the readings were taken in (UTC)
    readings = {
        s["step"]: s
        for s in stack.api(f"/api/reports/monthly/readings?month={month}")
        if s["plan_id"] == LIFT_PLAN
    }
    html = request(
        "GET",
        f"{stack.url}/api/reports/monthly",
        params={"month": month},
        headers=stack.auth("super1"),
        timeout=10,
    )
    assert html.status_code == 200, html.text
    rows = [r for r in table(html.text, "readings") if LIFT_PLAN in r]
    brake = done["checklist"][1]
    for index, value in READINGS.items():
        step = done["checklist"][index]
        figures = readings[step["item"]]
        assert (figures["count"], figures["min"], figures["max"]) == (1, value, value), figures
        (row,) = [r for r in rows if step["item"] in r]
        shown = f"{number(value)} {step['unit']}"
        assert row.count(shown) == 2, row  # the lowest and the highest: the one reading
    (brake_row,) = [r for r in rows if brake["item"] in r]
    outliers = brake_row[-1]
    assert done["number"] in outliers and brake["follow_up_job"] in outliers, brake_row
    assert readings[brake["item"]]["out_of_limits"] == 1
