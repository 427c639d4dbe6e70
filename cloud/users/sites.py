"""People per site: which sites a person sees, and their role at each (table `user_sites`).

A person with no site rows keeps their one role (`users.role`) at every site: the portfolio.
A person with rows sees only those sites; at each, a route is open to them when both their
own role and their role at that site allow it (a site's role narrows, it never widens: a
supervisor who is a technician at site B does at B what technicians do). Everything of
another site is "not found" to them, as if it did not exist (`SiteAccess`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from cloud.enums import Role
from cloud.equipment import Equipment
from cloud.errors import Conflict, InvalidInput, NotFound, existing
from cloud.siting import site_for
from cloud.users.model import Team, User, UserSite
from cloud.workorders.model import WorkOrder

MAX_SITES_PER_USER = 1000  # site rows one person may have
# The roles a person may hold at a site, by their own role: the same, or one that may do less.
NARROWER: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role) - {Role.CONTRACTOR},
    Role.SUPERVISOR: frozenset({Role.SUPERVISOR, Role.TECHNICIAN, Role.DISPATCHER}),
    Role.ENGINEER: frozenset({Role.ENGINEER}),
    Role.TECHNICIAN: frozenset({Role.TECHNICIAN}),
    Role.DISPATCHER: frozenset({Role.DISPATCHER}),
    Role.CONTRACTOR: frozenset({Role.CONTRACTOR}),
}


def site_roles(session: Session, user_id: int) -> dict[str, Role]:
    """The person's role per site; empty: every site, with their own role."""
    rows = session.execute(
        select(UserSite.site, UserSite.role).where(UserSite.user_id == user_id)
    ).all()
    return {site: role for site, role in rows}


def set_sites(
    session: Session, user: User, roles: Mapping[str, Role], *, served: Collection[str]
) -> dict[str, Role]:
    """Give `user` exactly `roles` (site → role; empty: every site again). InvalidInput names
    a site this service does not serve, or a contractor's role given to staff (or back)."""
    if len(roles) > MAX_SITES_PER_USER:
        raise InvalidInput(f"sites: at most {MAX_SITES_PER_USER} (got {len(roles)})")
    for site, role in roles.items():
        if site not in served:
            known = ", ".join(sorted(served))
            raise InvalidInput(f"sites.{site}: not a site of this service (known: {known})")
        if role not in NARROWER[user.role]:
            allowed = ", ".join(sorted(r.value for r in NARROWER[user.role]))
            raise InvalidInput(
                f"sites.{site}: {role.value} is more than a {user.role.value} may be at a site"
                f" (allowed: {allowed})"
            )
    for row in session.scalars(select(UserSite).where(UserSite.user_id == user.id)):
        session.delete(row)  # one by one: the tokens' cache sees the change (cloud.deps)
    session.flush()
    for site, role in sorted(roles.items()):
        session.add(UserSite(user_id=user.id, site=site, role=role))
    session.flush()
    session.expire(user, ["sites"])
    return dict(roles)


class Route(Protocol):
    """Where a route's role check leaves the roles it allows (a request's `state`)."""

    route_roles: Collection[Role] | None


@dataclass(frozen=True, slots=True)
class SiteAccess:
    """What one request may see: `sites` None for every site (the portfolio), else those."""

    roles: Mapping[str, Role] = field(default_factory=dict)  # site → role; empty: every site
    route: Route | None = None  # read when asked, once the route's role check has run

    @classmethod
    def only(cls, sites: Iterable[str]) -> SiteAccess:
        return cls({s: Role.ADMIN for s in sites})

    @property
    def sites(self) -> frozenset[str] | None:
        """The sites of `roles` (None: every site) at which the person holds a role the
        route allows."""
        if not self.roles:
            return None
        wanted = getattr(self.route, "route_roles", None)
        return frozenset(s for s, r in self.roles.items() if wanted is None or r in wanted)

    def sees(self, site: str | None) -> bool:
        """Whether a record of `site` is visible (one of no site: to the portfolio only)."""
        return self.sites is None or (site is not None and site in self.sites)

    def check(self, site: str | None, what: str) -> None:
        """NotFound naming `what` for a record of a site out of scope."""
        if not self.sees(site):
            raise NotFound(f"{what} does not exist")

    def narrow(self, site: str | None) -> SiteAccess:
        """The scope of a `?site=` filter: that site only (NotFound when out of scope)."""
        if site is None:
            return self
        self.check(site, f"site {site!r}")
        return SiteAccess.only([site])

    def where(
        self, column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]
    ) -> ColumnElement[bool]:
        """A WHERE clause keeping the rows of `column`'s site in scope."""
        if self.sites is None:
            return true()
        return column.in_(sorted(self.sites))


EVERY_SITE = SiteAccess()
KEY = "site_access"  # where a request's session keeps its caller's `SiteAccess`


MAX_NAMED_SITES = 20  # sites an ambiguous id's error names


def find_equipment(session: Session, equipment_id: str, site: str | None = None) -> Equipment:
    """The equipment `equipment_id` of `site` or, without one, of the sites the caller sees
    (an id is unique within its site only). NotFound when the caller sees none; Conflict
    naming the sites when the id is used at several of theirs and `site` does not say which."""
    access = access_of(session)
    what = f"equipment {equipment_id!r}"
    if site is not None:
        access.check(site, f"{what} at site {site!r}")
        return existing(session.get(Equipment, (site, equipment_id)), f"{what} at site {site!r}")
    found = list(
        session.scalars(
            select(Equipment)
            .where(Equipment.id == equipment_id, access.where(Equipment.site))
            .order_by(Equipment.site)
            .limit(MAX_NAMED_SITES + 1)
        )
    )
    if not found:
        raise NotFound(f"{what} does not exist")
    if len(found) > 1:
        named = ", ".join(repr(e.site) for e in found[:MAX_NAMED_SITES])
        more = " and more" if len(found) > MAX_NAMED_SITES else ""
        raise Conflict(f"{what} is at several sites ({named}{more}): say which with site (?site=)")
    return found[0]


def check_place(
    session: Session, equipment_id: str | None, building: str | None, site: str | None = None
) -> Equipment | None:
    """NotFound for equipment, or a building, of a site the caller does not see; the
    equipment when one is named and found (see `find_equipment`), None when the registry does
    not have it (the caller says what that means)."""
    access = access_of(session)
    if equipment_id is not None:
        try:
            return find_equipment(session, equipment_id, site)
        except NotFound:
            anywhere = select(Equipment.site).where(Equipment.id == equipment_id)
            if site is not None:
                anywhere = anywhere.where(Equipment.site == site)
            if access.sites is not None and session.scalar(anywhere.limit(1)) is not None:
                raise  # another site's: it does not exist for them
    if access.sites is None:
        return None
    if building is not None:
        access.check(site_for(session.connection(), None, building), f"building {building!r}")
    return None


def of_sites(
    sites: frozenset[str] | None,
    site: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | None = None,
    *,
    building: Any = None,
    work_order: Any = None,
    equipment: Any = None,
) -> ColumnElement[bool]:
    """SQL: a record of one of `sites` (None: any), by its own `site` column, its building
    (a building of those sites' equipment), its work order (a job of those sites) or its
    equipment."""
    if sites is None:
        return true()
    wanted = sorted(sites)
    found: list[ColumnElement[bool]] = []
    if site is not None:
        found.append(site.in_(wanted))
    if building is not None:
        found.append(building.in_(select(Equipment.building).where(Equipment.site.in_(wanted))))
    if work_order is not None:
        found.append(work_order.in_(select(WorkOrder.id).where(WorkOrder.site.in_(wanted))))
    if equipment is not None:  # a record without a site of its own: its equipment's
        found.append(equipment.in_(select(Equipment.id).where(Equipment.site.in_(wanted))))
    return or_(*found)


def team_of_sites(sites: frozenset[str] | None) -> ColumnElement[bool]:
    """SQL: a team that serves one of `sites`: of one of them, or of no site and of a
    building of theirs or of every building."""
    if sites is None:
        return true()
    wanted = sorted(sites)
    of_their_building = Team.building.in_(
        select(Equipment.building).where(Equipment.site.in_(wanted))
    )
    return or_(
        Team.site.in_(wanted),
        and_(Team.site.is_(None), or_(Team.building.is_(None), of_their_building)),
    )


def person_of_sites(sites: frozenset[str] | None) -> ColumnElement[bool]:
    """SQL: a person who works at one of `sites`: one of every site, or of one of those."""
    if sites is None:
        return true()
    restricted = select(UserSite.user_id)
    return or_(
        User.id.not_in(restricted),
        User.id.in_(restricted.where(UserSite.site.in_(sorted(sites)))),
    )


def who_see(session: Session, user_ids: Collection[int], site: str | None) -> set[int]:
    """Those of `user_ids` who see records of `site`: people of every site, and people of
    that site (a record of no site: people of every site only)."""
    if not user_ids:
        return set()
    rows = session.execute(
        select(UserSite.user_id, UserSite.site).where(UserSite.user_id.in_(sorted(user_ids)))
    ).all()
    restricted = {user_id for user_id, _ in rows}
    there = {user_id for user_id, at in rows if at == site}
    return {u for u in user_ids if u not in restricted or u in there}


def act_at(session: Session, user: User, site: str | None) -> None:
    """For the rest of the request, `user` acts with their role at `site` (a record of it is
    being worked on), where that role is not their own; never written to the database."""
    role = access_of(session).roles.get(site or "")
    if role is not None and role is not user.role:
        set_committed_value(user, "role", role)


def bind(session: Session, access: SiteAccess) -> None:
    """The caller's access, kept with their request's session (`cloud.deps`)."""
    session.info[KEY] = access


def access_of(session: Session) -> SiteAccess:
    """The access of the caller whose request the session serves; every site for a session
    of no caller (the service's own work)."""
    found = session.info.get(KEY)
    return found if isinstance(found, SiteAccess) else EVERY_SITE
