"""GET /api/sites: the sites the caller sees, for a site switcher and `?site=` filters."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import AnyUser, SessionDep, StateDep, answer
from cloud.schemas import SiteOut
from cloud.users.sites import access_of

router = APIRouter(tags=["sites"], responses=AUTH_RESPONSES)


@router.get("/sites", response_model=list[SiteOut])
def list_sites(state: StateDep, session: SessionDep, user: AnyUser) -> Response:
    """The sites this service serves that the caller sees (all of them for a person of no
    site of their own), in the service's order, each with its name and time zone."""
    access = access_of(session)
    return answer(
        session,
        [
            SiteOut(id=inv.site.id, name=inv.site.name, time_zone=inv.site.timezone)
            for inv in state.sites.inventories
            if access.sees(inv.site.id)
        ],
    )
