"""The console on a full API: a cloud that works on one request at a time and holds none
waiting answers most of a page's dozen reads `503 overloaded` with `Retry-After`; the console
asks each again after the time given, so the jobs page and the board still load. A write
turned away is not repeated by the console itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stack.services import Influxd, Mosquitto
from tests.cloud.console.browser import (
    SMALL_PHONE,
    WAIT_MS,
    Stack,
    chromium,
    new_page,
    page_errors,
    running_cloud,
    shot,
    sign_in,
)

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = [pytest.mark.integration, pytest.mark.browser]

FULL = {"PLANTROOM_API_MAX_IN_PROGRESS": "1", "PLANTROOM_API_MAX_QUEUED": "0"}


@pytest.fixture
def full(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> Iterator[Stack]:
    """The cloud process on tower-a, admitting one request at a time and queueing none."""
    with running_cloud(
        tmp_path,
        mosquitto,
        influxd,
        site=f"ov-{uuid.uuid4().hex[:8]}",
        database=f"ov_{uuid.uuid4().hex[:8]}",
        env=FULL,
    ) as running:
        yield running


def test_a_page_loads_on_a_full_api_by_asking_again(full: Stack) -> None:
    job = full.post(
        "/api/work-orders", {"title": "Pump A1 noisy", "equipment_id": "pump-a1"}, "tech1"
    )
    turned_away: list[str] = []
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE)
        errors = page_errors(page)

        def seen(response: Any) -> None:
            if response.status == 503 and response.request.method == "GET":
                turned_away.append(response.url)

        page.on("response", seen)
        sign_in(page, full, "super1")
        expect(page.get_by_role("article", name=job["title"])).to_be_visible(timeout=WAIT_MS)
        page.goto(full.url + "/#/board")
        expect(page.get_by_role("heading", name="Supervisor board")).to_be_visible()
        board_card = page.locator(f"li.card[data-number='{job['number']}']")
        expect(board_card).to_be_visible(timeout=WAIT_MS)
        shot(page, "overload-board")
        assert turned_away, "the API was never full: the test shows nothing"
        # each read turned away was asked again and answered: no error is left on the page
        expect(page.get_by_text("serving all it can")).to_have_count(0)
        assert errors == []
