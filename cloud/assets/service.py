"""The asset register's operations: add a register-only asset, change the register fields of
any piece of equipment (and the whole of a register-only asset), retire one (listing and
searching are `cloud.registry.search`).

Each check returns its problems as `(field, problem)` so that the API can answer with them
and the CSV import can name the line each came from; nothing is changed until every check of
an operation (or of a whole file) has passed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cloud import registry
from cloud.assets.kinds import check_asset_kind
from cloud.assets.schemas import AssetChange, AssetIn
from cloud.enums import EquipmentStatus
from cloud.equipment import Equipment
from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.sites import Sites
from plantroom.inventory import Inventory

Problem = tuple[str, str]  # (field, what is wrong)
# What the inventory owns on the equipment it lists.
INVENTORY_FIELDS = ("kind", "building", "floor", "zone", "name")
MAX_LIST = 5000  # rows one listing answers (the CSV import's bound too)


@dataclass(frozen=True, slots=True)
class SiteScope:
    """The site the register serves: its id and its buildings (from the inventory)."""

    id: str
    buildings: frozenset[str]
    site_of: Mapping[str, str] = field(default_factory=dict)  # building → site, if not `id`

    @classmethod
    def of(cls, inventory: Inventory | Sites, sites: Collection[str] | None = None) -> SiteScope:
        """One site's register, or several sites' (an asset is of its building's site): of
        `sites` only, when given."""
        if isinstance(inventory, Sites):
            by_building = {
                b: s for b, s in inventory.by_building().items() if sites is None or s in sites
            }
            return cls(inventory.first.site.id, frozenset(by_building), by_building)
        return cls(inventory.site.id, frozenset(b.id for b in inventory.buildings))

    def serves(self, site: str) -> bool:
        return site == self.id or site in self.site_of.values()


def _describe(row: Equipment) -> str:
    where = "connected, from the inventory" if row.connected else "register-only"
    return f"{row.site}/{row.building}, {row.kind}, {where}"


def check_new(session: Session, site: SiteScope, asset: AssetIn) -> list[Problem]:
    """What stops `asset` from being added (empty: nothing)."""
    problems: list[Problem] = []
    # an id is its site's own: the asset's site is its building's
    there = session.get(Equipment, (site.site_of.get(asset.building, site.id), asset.id))
    if there is not None:
        problems.append(("id", f"{asset.id!r} is already registered ({_describe(there)})"))
    if asset.id.lower() in {b.lower() for b in site.buildings}:
        problems.append(("id", f"{asset.id!r} is a building of site {site.id!r}"))
    problems.extend(_check_building(site, asset.building))
    return problems


def check_change(site: SiteScope, row: Equipment, change: AssetChange) -> list[Problem]:
    """What stops `change` from applying to `row` (empty: nothing)."""
    problems: list[Problem] = []
    if not site.serves(row.site):
        return [("id", f"{row.id!r} belongs to site {row.site!r}, not {site.id!r}")]
    if not row.in_inventory:
        return [("id", f"{row.id!r} is retired; a retired id is not used again")]
    given = change.given()
    for name in INVENTORY_FIELDS:
        if name not in given:
            continue
        value = given[name]
        if row.connected:
            current = getattr(row, name)
            if value is not None and value != current:
                now = "empty" if current is None else repr(current)
                problems.append(
                    (name, f"the inventory owns it on connected equipment ({now}); change it there")
                )
        elif name in ("kind", "building") and value is None:
            problems.append((name, "required"))
        elif name == "kind":
            try:
                check_asset_kind(value)
            except ValueError as exc:  # a telemetry kind: the inventory's
                problems.append((name, str(exc)))
    if not row.connected and given.get("building") is not None:
        problems.extend(_check_building(site, given["building"]))
    installed = given.get("install_date", row.install_date)
    ends = given.get("warranty_end", row.warranty_end)
    dated = "install_date" in given or "warranty_end" in given
    if dated and installed and ends and ends < installed:
        problems.append(
            ("warranty_end", f"{ends.isoformat()} is before install_date {installed.isoformat()}")
        )
    return problems


def _check_building(site: SiteScope, building: str) -> list[Problem]:
    if building in site.buildings:
        return []
    known = ", ".join(sorted(site.buildings))
    return [("building", f"{building!r} is not a building of site {site.id!r} (known: {known})")]


def _fail(problems: list[Problem], *, conflict: bool = False) -> None:
    message = "; ".join(f"{field}: {problem}" for field, problem in problems)
    details = [{"field": field, "problem": problem} for field, problem in problems]
    if conflict:
        raise Conflict(message, details=details)
    raise InvalidInput(message, details=details)


def new_row(site: SiteScope, asset: AssetIn) -> Equipment:
    fields = asset.model_dump(exclude={"documents", "id"})
    return Equipment(
        id=asset.id,
        site=site.site_of.get(asset.building, site.id),
        profile="",
        tags={},
        in_inventory=True,
        connected=False,
        status=EquipmentStatus.UNKNOWN,
        last_values={},
        documents=[d.model_dump() for d in asset.documents] or None,
        **fields,
    )


def apply_change(row: Equipment, change: AssetChange) -> bool:
    """Set what `change` gives on `row` (the inventory's fields only on register-only
    assets); whether anything changed."""
    changed = False
    for name, value in change.given().items():
        required = name in ("kind", "building") and value is None
        if name in INVENTORY_FIELDS and (row.connected or required):
            continue
        if name == "documents":
            value = [d.model_dump() for d in change.documents] or None
            if (row.documents or None) == value:
                continue
        elif getattr(row, name) == value:
            continue
        setattr(row, name, value)
        changed = True
    return changed


def create(session: Session, site: SiteScope, asset: AssetIn) -> Equipment:
    problems = check_new(session, site, asset)
    if problems:
        _fail(problems, conflict=problems[0][0] == "id")
    row = new_row(site, asset)
    session.add(row)
    session.flush()
    return row


def update(
    session: Session,
    site: SiteScope,
    equipment_id: str,
    change: AssetChange,
    of_site: str | None = None,
) -> Equipment:
    """`of_site`: the equipment's site, when its id is used at several of the caller's."""
    row = registry.get(session, equipment_id, of_site)
    problems = check_change(site, row, change)
    if problems:
        _fail(problems, conflict=problems[0][0] == "id")
    apply_change(row, change)
    session.flush()
    return row


def retire(
    session: Session, site: SiteScope, equipment_id: str, of_site: str | None = None
) -> Equipment:
    """Retire a register-only asset: it leaves the lists, PM plans and indicators; its jobs
    and history stay. Connected equipment is retired by taking it out of the inventory."""
    row = registry.get(session, equipment_id, of_site)
    if row.connected:
        raise Conflict(
            f"{equipment_id!r} is connected equipment from the site inventory; "
            "remove it from the inventory to retire it",
            code="inventory_owned",
        )
    if not site.serves(row.site):
        raise NotFound(f"equipment {equipment_id!r} is not of site {site.id!r}")
    row.in_inventory = False
    session.flush()
    return row
