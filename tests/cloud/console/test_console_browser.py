"""The technician console in a real browser (Debian's Chromium driven by Playwright) against
the real stack: mosquitto, InfluxDB and `plantroom cloud` as its own process.

A technician on a phone-sized screen signs in, sees a pump's dry-run fault arrive as a job
without reloading, acknowledges it, starts it, puts it on hold and resumes it, is told that
it cannot be resolved while the fault is active, sees the fault clear, and resolves it with a
note. Screenshots of the main pages go to test-artifacts/console/.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from paho.mqtt import publish

from tests.cloud.console.browser import (
    Stack,
    check_accessible_basics,
    chromium,
    expect,
    new_page,
    page_errors,
    shot,
)
from tests.harness import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_a_technician_takes_a_fault_from_alarm_to_resolved(stack: Stack) -> None:
    stack.on_call("tech1")  # the job is told to tech1 whichever technician's day it is
    with chromium() as browser:
        page = new_page(browser)
        run_scenario(page, stack)


def run_scenario(page: Any, stack: Stack) -> None:
    errors = page_errors(page)

    # sign in: a wrong password is refused with the service's message; a token works
    page.goto(stack.url + "/")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    page.get_by_label("Username").fill("tech1")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#signin-error")).to_contain_text("unknown user or wrong password")
    check_accessible_basics(page)
    shot(page, "sign-in")
    page.get_by_label("API token", exact=True).fill(stack.token("tech1"))
    page.get_by_role("button", name="Sign in with token").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    expect(page.locator("#live")).to_have_text("Live")
    expect(page.locator("#mine-h")).to_contain_text("(0)")
    page.evaluate("window.__sameDocument = true")

    # the fault arrives as a job, without reloading
    unassigned = page.locator("section[aria-labelledby='open-h'] li.card")
    job = unassigned.filter(has_text="pump-a1")

    def raised() -> bool:
        stack.pump(dry_run=True, speed=1450, discharge_pressure=0.4)
        return bool(stack.api("/api/work-orders?equipment_id=pump-a1")["total"])

    wait_for(raised, "the dry-run work order", within=20, interval=1.0)
    expect(job).to_have_count(1)
    expect(job).to_contain_text("Respond by")
    expect(job).to_contain_text("Fault active")
    check_accessible_basics(page)
    shot(page, "jobs-new-fault")
    wo_id = int(job.get_attribute("data-key") or 0)
    assert stack.api(f"/api/work-orders/{wo_id}")["status"] == "open"
    # the SLA ticker dispatches it (tech1 has no contact point: that message is failed)
    wait_for(
        lambda: stack.api(f"/api/work-orders/{wo_id}/notifications"),
        "the job's dispatch to the outbox",
        within=20,
    )

    # acknowledge: the job moves to My jobs, and focus goes with it
    job.get_by_role("button", name="Acknowledge").click()
    mine = page.locator(f"section[aria-labelledby='mine-h'] li.card[data-key='{wo_id}']")
    expect(mine).to_contain_text("acknowledged")
    expect(unassigned.filter(has_text="pump-a1")).to_have_count(0)
    expect(mine.get_by_role("button", name="Start work")).to_be_focused()

    mine.get_by_role("button", name="Start work").click()
    expect(mine).to_contain_text("in progress")
    expect(mine).to_contain_text("Resolve by")

    # hold needs a reason; then back to work
    mine.get_by_role("button", name="Put on hold…").click()
    reason = mine.get_by_label("Why is it on hold?")
    expect(reason).to_be_focused()
    reason.fill("waiting for the strainer gasket from stores")
    shot(page, "jobs-hold-form")
    mine.get_by_role("button", name="Put on hold", exact=True).click()
    expect(mine).to_contain_text("on hold")
    mine.get_by_role("button", name="Resume").click()
    expect(mine).to_contain_text("in progress")

    # resolving while the fault is still active is refused, and the console says why
    mine.get_by_role("button", name="Resolve…").click()
    mine.get_by_label("What was done?").fill("cleaned the strainer")
    mine.get_by_role("button", name="Resolve job").click()
    expect(mine.get_by_role("alert")).to_contain_text("fault is still active")
    mine.get_by_role("button", name="Cancel").click()
    shot(page, "jobs-mine")

    # the fault clears at the pump: the card says so, live
    def cleared() -> bool:
        stack.pump(dry_run=False, speed=1450, discharge_pressure=3.4)
        alarm = stack.api(f"/api/work-orders/{wo_id}")["alarm"]
        return bool(alarm and alarm["state"] == "cleared")

    wait_for(cleared, "the alarm to clear", within=20, interval=1.0)
    expect(mine).to_contain_text("Fault cleared")

    mine.get_by_role("button", name="Resolve…").click()
    mine.get_by_label("What was done?").fill("strainer blocked with debris; cleaned and primed")
    mine.get_by_role("button", name="Resolve job").click()
    expect(page.locator(f"li.card[data-key='{wo_id}']")).to_have_count(0)
    expect(page.locator("#mine-h")).to_contain_text("(0)")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"

    detail = stack.api(f"/api/work-orders/{wo_id}")
    assert detail["status"] in ("resolved", "closed")
    assert detail["assignee"]["username"] == "tech1"
    mine_events = [e for e in detail["events"] if e["actor"] == "tech1"]
    assert [e["action"] for e in mine_events] == [
        "acknowledge",
        "start",
        "hold",
        "resume",
        "resolve",
    ]
    assert {e["channel"] for e in mine_events} == {"console"}
    assert mine_events[2]["note"] == "waiting for the strainer gasket from stores"
    assert mine_events[-1]["note"] == "strainer blocked with debris; cleaned and primed"

    # the job's own page, with its history
    page.goto(f"{stack.url}/#/jobs/{wo_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(detail["number"])
    expect(page.locator(".timeline li")).to_have_count(len(detail["events"]))
    # the messages the job sent, as the API lists them: to whom, channel, status, when
    sent = stack.api(f"/api/work-orders/{wo_id}/notifications")
    messages = page.locator("section[aria-labelledby='messages-h']")
    expect(messages.get_by_role("heading", name="Messages sent")).to_be_visible()
    assert sent, "the dispatch wrote no outbox row"
    expect(messages.locator("li")).to_have_count(len(sent))
    tech1 = messages.locator("li").filter(has_text="tech1")
    expect(tech1.locator(".badge.message-failed")).to_have_text("failed")
    expect(tech1).to_contain_text("no verified contact point")
    expect(tech1.locator("time")).to_have_count(1)
    shot(page, "job")

    # the alarm list, by keyboard: the nav links are reachable and mark the current page
    page.get_by_role("link", name="Alarms").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Alarms", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Alarms")).to_have_attribute("aria-current", "page")
    page.get_by_label("Cleared").check()
    expect(page.locator("li.card").filter(has_text="pump-a1")).to_have_count(1)
    check_accessible_basics(page)
    shot(page, "alarms")

    # the pump's page: current values, a chart of the day from InfluxDB, its alarms and jobs
    page.get_by_role("link", name="pump-a1").first.click()
    expect(page.get_by_role("heading", name="pump-a1", level=1)).to_be_visible()
    expect(page.locator("table.values")).to_contain_text("discharge pressure")
    expect(page.locator("svg.chart path.line")).to_have_count(1)
    expect(page.locator("figcaption")).to_contain_text("lowest")
    # its open jobs: the one above is resolved, so none (the QR labels' page lists open ones)
    jobs = page.locator("section[aria-labelledby='eq-jobs-h']")
    expect(jobs.locator("li.card")).to_have_count(0)
    expect(jobs).to_contain_text("No open jobs.")
    check_accessible_basics(page)
    shot(page, "equipment")
    page.get_by_label("Point").select_option("dry_run")
    expect(page.locator("figcaption")).to_contain_text("latest on")

    page.goto(f"{stack.url}/#/equipment")
    expect(page.get_by_role("link", name="lift-a1")).to_be_visible()
    shot(page, "equipment-list")
    assert errors == []


def test_a_supervisor_sees_the_edge_clock_alarm_in_the_banner_and_acknowledges_it(
    stack: Stack,
) -> None:
    topic = f"plantroom/v1/{stack.site}/edge/b01/health"
    for seq in range(3):  # the agent's clock runs ten minutes fast
        report = {"ts": int(time.time() * 1000) + 600_000, "seq": seq, "agent": {"uptime_s": 1}}
        publish.single(
            topic,
            json.dumps(report),
            qos=1,
            hostname=stack.broker.host,
            port=stack.broker.port,
            client_id=f"console-test-{uuid.uuid4().hex[:8]}",
        )
    wait_for(
        lambda: stack.api("/api/system-alarms?state=active")["total"] == 1,
        "the edge clock alarm",
        within=20,
    )
    with chromium() as browser:
        page = new_page(browser)
        errors = page_errors(page)
        page.goto(stack.url + "/")
        page.get_by_label("API token", exact=True).fill(stack.token("super1"))
        page.get_by_role("button", name="Sign in with token").click()
        banner = page.get_by_role("region", name="System alarms")
        expect(banner).to_contain_text("edge:b01")
        expect(banner).to_contain_text("clock 600 s ahead of the cloud's")
        check_accessible_basics(page)
        shot(page, "system-alarm-banner")
        banner.get_by_role("button", name="Acknowledge").click()
        expect(banner).to_contain_text("seen by super1")
        expect(banner.get_by_role("button", name="Acknowledge")).to_have_count(0)
        [alarm] = stack.api("/api/system-alarms?state=active")["items"]
        assert alarm["acknowledged_by"] == "super1"
        assert errors == []
