"""A person's sites: GET and PUT /api/users/{username}/sites (docs/sites.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import AdminUser, OfficeUser, SessionDep, StateDep, answer, one_writer
from cloud.enums import Role
from cloud.users import service as users
from cloud.users import sites

router = APIRouter(tags=["users"], responses=AUTH_RESPONSES)

Username = Annotated[str, Path(min_length=1, max_length=64, examples=["tech1"])]


class UserSitesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"sites": {"north": "technician"}}]},
    )

    sites: dict[Annotated[str, Field(min_length=1, max_length=64)], Role] = Field(
        max_length=sites.MAX_SITES_PER_USER,
        description="site id → the person's role there; empty: every site, with their own role",
    )


class UserSitesOut(BaseModel):
    username: str
    role: Role = Field(description="the person's own role")
    sites: dict[str, Role] = Field(description="site → role; empty: every site (the portfolio)")


@router.get("/users/{username}/sites", response_model=UserSitesOut)
def get_user_sites(username: Username, session: SessionDep, caller: OfficeUser) -> Response:
    """The sites a person sees, with their role at each (supervisors and admins)."""
    user = users.require_user(session, username)
    roles = sites.site_roles(session, user.id)
    return answer(session, UserSitesOut(username=user.username, role=user.role, sites=roles))


@router.put("/users/{username}/sites", response_model=UserSitesOut)
def put_user_sites(
    username: Username, body: UserSitesIn, state: StateDep, session: SessionDep, caller: AdminUser
) -> Response:
    """Give a person exactly these sites, each with their role there (admins). At a site, a
    route is open to them when both their own role and that site's role allow it; everything
    of another site is not found to them. Empty: every site again."""
    user = users.require_user(session, username)
    with one_writer(session):
        roles = sites.set_sites(session, user, body.sites, served=state.served_sites)
        return answer(session, UserSitesOut(username=user.username, role=user.role, sites=roles))
