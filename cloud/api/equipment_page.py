"""`/equipment/<id>?site=<site>`: the address on an equipment's QR label, which opens that
equipment's page in the console (after signing in when needed: the console keeps the page it
was opened on). The site goes along, as an equipment id is unique within its site only; an
address without one (an older label) opens the id where the person sees it at one site."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)


@router.get("/equipment/{equipment_id}")
def equipment_page(
    equipment_id: Annotated[str, Path(max_length=64)],
    site: Annotated[str | None, Query(max_length=64)] = None,
) -> RedirectResponse:
    page = f"/#/equipment/{quote(equipment_id, safe='')}"
    if site:
        page += f"?site={quote(site, safe='')}"
    return RedirectResponse(page, status_code=303)
