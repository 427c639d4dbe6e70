"""The equipment registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cloud import registry
from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import CurrentUser, SessionDep, SiteQuery, answer
from cloud.enums import EquipmentStatus
from cloud.schemas import EquipmentDetailOut, EquipmentOut, EquipmentPage
from cloud.users.sites import access_of
from plantroom.kinds import Kind

router = APIRouter(prefix="/equipment", tags=["equipment"], responses=AUTH_RESPONSES)


@router.get("", response_model=EquipmentPage)
def list_equipment(
    session: SessionDep,
    user: CurrentUser,
    building: Annotated[str | None, Query(description="building id")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    status: Annotated[EquipmentStatus | None, Query()] = None,
    include_retired: Annotated[
        bool, Query(description="also equipment gone from the inventory")
    ] = False,
    site: SiteQuery = None,
) -> Response:
    rows = registry.search(
        session,
        sites=access_of(session).narrow(site).sites,
        building=building,
        kind=kind.value if kind else None,
        status=status,
        include_retired=include_retired,
    )
    return answer(
        session,
        EquipmentPage(items=[EquipmentOut.model_validate(r) for r in rows], total=len(rows)),
    )


@router.get("/{equipment_id}", response_model=EquipmentDetailOut)
def get_equipment(
    equipment_id: str, session: SessionDep, user: CurrentUser, site: SiteQuery = None
) -> Response:
    """One piece of equipment, its latest values and the units of its kind's points."""
    found = registry.get(session, equipment_id, site)
    return answer(session, EquipmentDetailOut.model_validate(found))
