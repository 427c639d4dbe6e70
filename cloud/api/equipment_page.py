"""`/equipment/<id>`: the address on an equipment's QR label, which opens that equipment's page
in the console (after signing in when needed: the console keeps the page it was opened on)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)


@router.get("/equipment/{equipment_id}")
def equipment_page(equipment_id: Annotated[str, Path(max_length=64)]) -> RedirectResponse:
    return RedirectResponse(f"/#/equipment/{quote(equipment_id, safe='')}", status_code=303)
