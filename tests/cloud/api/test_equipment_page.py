"""The QR label's address `/equipment/<id>?site=<site>` sends the browser to the console's
equipment page with the site kept (an equipment id is unique within its site only)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cloud.api.equipment_page import router


async def opened(address: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        return await client.get(address, follow_redirects=False)


@pytest.mark.parametrize(
    ("address", "page"),
    [
        ("/equipment/pump-1?site=south", "/#/equipment/pump-1?site=south"),
        ("/equipment/pump-1", "/#/equipment/pump-1"),  # an older label: no site
        ("/equipment/pump%201?site=a%26b", "/#/equipment/pump%201?site=a%26b"),
        ("/equipment/pump-1?site=", "/#/equipment/pump-1"),
    ],
)
async def test_the_label_opens_the_console_page_of_its_site(address: str, page: str) -> None:
    resp = await opened(address)
    assert resp.status_code == 303
    assert resp.headers["location"] == page


async def test_an_overlong_site_is_refused() -> None:
    resp = await opened("/equipment/pump-1?site=" + "s" * 65)
    assert resp.status_code == 422
    assert "site" in resp.text
