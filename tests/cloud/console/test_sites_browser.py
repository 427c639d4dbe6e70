"""The site switcher in Debian's Chromium on a 360x640 phone, against the cloud app serving
two sites (docs/sites.md): an admin of every site sees both sites' jobs, picks one site and
sees its jobs only; a technician of one site has no switcher and sees their site's jobs.
Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.console.browser import (
    SMALL_PHONE,
    WAIT_MS,
    check_accessible_basics,
    chromium,
    expect,
    new_page,
    raise_job,
    serving_portfolio,
    shot,
    sign_in_with,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The app on two sites over HTTP: its address and the people's tokens."""
    database_url = f"sqlite:///{tmp_path}/db/cloud.sqlite"
    with serving_portfolio(tmp_path, database_url) as (_, url, tokens):
        for equipment in ("n-pump", "s-pump"):
            job = {"title": f"{equipment} is noisy", "equipment_id": equipment}
            raise_job(url, tokens["boss"], job)
        yield url, tokens


def test_a_portfolio_person_switches_sites_and_a_site_person_has_no_switcher(
    served: tuple[str, dict[str, str]],
) -> None:
    url, tokens = served
    with chromium() as browser:
        page = new_page(browser, SMALL_PHONE)
        sign_in_with(page, url, tokens["boss"])
        switcher = page.get_by_label("Site", exact=True)
        expect(switcher).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("n-pump is noisy")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("s-pump is noisy")).to_be_visible()
        options = switcher.locator("option").all_inner_texts()
        assert options == ["All sites", "Site north", "Site south"]
        shot(page, "sites-all-phone")
        switcher.select_option("north")
        expect(page.get_by_text("s-pump is noisy")).to_have_count(0, timeout=WAIT_MS)
        expect(page.get_by_text("n-pump is noisy")).to_be_visible()
        check_accessible_basics(page)
        shot(page, "sites-north-phone")
        page.get_by_role("button", name="Sign out").click()

        sign_in_with(page, url, tokens["tech-n"])
        expect(page.get_by_text("n-pump is noisy")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("s-pump is noisy")).to_have_count(0)
        expect(page.locator("#site")).to_be_hidden()
        shot(page, "sites-technician-phone")
