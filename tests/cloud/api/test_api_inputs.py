"""Query times and months out of range are a 422 naming the parameter; identifiers do not
take a trailing newline; every console path carries the page's security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.api.console import PAGE_HEADERS
from cloud.enums import Role
from cloud.pm.model import _MONTH_DAY
from cloud.report.build import MONTH
from cloud.rules.conditions import _TIME_OF_DAY
from cloud.users.service import USERNAME
from plantroom.topics import check_segment
from tests.cloud.harness import Api, serve, settings_for


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), users={"super1": Role.SUPERVISOR}) as a:
        yield a


@pytest.mark.parametrize("path", ["/api/work-orders", "/api/kpis"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("from", "0001-01-01T00:00:00+14:00"),
        ("to", "9999-12-31T23:59:59-14:00"),
        ("from", "1969-12-31T23:59:59Z"),
        ("to", "2200-01-01T00:00:00Z"),
    ],
)
async def test_times_out_of_range_are_a_422_naming_the_parameter(
    api: Api, path: str, name: str, value: str
) -> None:
    r = await api.get(path, "super1", params={name: value})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"query.{name}: ") and "out of range" in error["message"]


async def test_times_at_the_edges_of_the_range_are_served(api: Api) -> None:
    params = {"from": "1970-01-01T00:00:00Z", "to": "2199-12-31T23:59:59+00:00"}
    for path in ("/api/work-orders", "/api/kpis"):
        r = await api.get(path, "super1", params=params)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1969-12", "2026-11\n"])
async def test_a_month_out_of_range_or_with_a_newline_is_a_422(api: Api, month: str) -> None:
    r = await api.get("/api/reports/monthly", "super1", params={"month": month})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("query.month: ")


def test_identifier_patterns_refuse_a_trailing_newline() -> None:
    for pattern, good in (
        (USERNAME, "pat"),
        (MONTH, "2026-11"),
        (_MONTH_DAY, "03-01"),
        (_TIME_OF_DAY, "07:30"),
    ):
        assert pattern.match(good), pattern.pattern
        assert not pattern.match(good + "\n"), pattern.pattern
    check_segment("tower-a", "building")
    with pytest.raises(ValueError, match="building"):
        check_segment("tower-a\n", "building")


async def test_every_console_path_sends_the_security_headers(api: Api) -> None:
    for path in ("/", "/console/index.html", "/console/app.js"):
        r = await api.client.get(path)
        assert r.status_code == 200, path
        for header, value in PAGE_HEADERS.items():
            assert r.headers.get(header) == value, (path, header)
