"""Import a CSV file into the register: all or nothing.

Every row is checked first — its cells (cloud.assets.csvfile), then against the register and
the inventory (cloud.assets.service) — and only a file without a single problem changes
anything, in one transaction. A file with bad rows changes nothing and is answered with every
problem, each as `FILE:LINE: field: problem`; the same file, corrected, is imported whole.
Importing a file again changes only what differs: a row of an id already registered updates
it, so an exported file imports back unchanged.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.assets import service
from cloud.assets.csvfile import CsvProblem, CsvRow, field_problems, invalid, read
from cloud.assets.schemas import AssetIn, ImportResult
from cloud.assets.service import SiteScope
from cloud.equipment import Equipment

_CHUNK = 500  # ids per query


def _existing(session: Session, site: SiteScope, ids: list[str]) -> dict[str, list[Equipment]]:
    """The equipment of `ids` at the register's sites, by id (an id is unique within its
    site only)."""
    found: dict[str, list[Equipment]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for e in session.scalars(select(Equipment).where(Equipment.id.in_(chunk))):
            if site.serves(e.site):
                found.setdefault(e.id, []).append(e)
    return found


def _which(site: SiteScope, row: CsvRow, there: list[Equipment]) -> Equipment | CsvProblem | None:
    """The equipment a row updates: of the row's building's site when the id is at several."""
    building = row.change.given().get("building")
    if building is not None:
        there = [e for e in there if e.site == site.site_of.get(building, site.id)]
    if len(there) > 1:
        sites = ", ".join(sorted(e.site for e in there))
        return CsvProblem(
            row.line, "id", f"{row.id!r} is at several sites ({sites}): give building"
        )
    return there[0] if there else None


def _new_asset(session: Session, site: SiteScope, row: CsvRow) -> AssetIn | list[CsvProblem]:
    given = row.change.given()
    problems = [
        CsvProblem(row.line, name, "required for a new asset")
        for name in ("kind", "building")
        if given.get(name) is None
    ]
    if row.connected:
        problems.append(
            CsvProblem(
                row.line,
                "connected",
                f"{row.id!r} is not registered; connected equipment comes from the site "
                "inventory, an import adds register-only assets",
            )
        )
    if problems:
        return problems
    try:
        asset = AssetIn.model_validate({**given, "id": row.id})
    except ValidationError as exc:
        return [CsvProblem(row.line, *problem) for problem in field_problems(exc)]
    found = service.check_new(session, site, asset)
    return [CsvProblem(row.line, f, p) for f, p in found] or asset


def import_csv(
    session: Session, site: SiteScope, data: bytes, source: str, *, dry_run: bool = False
) -> ImportResult:
    """Check the file, then add and update its rows in one go (or, `dry_run`, only say what
    would change); CsvInvalid naming every problem of every row — its cells, and against the
    register and the inventory — with nothing changed."""
    rows, problems = read(data, source)
    existing = _existing(session, site, [r.id for r in rows])
    creates: list[AssetIn] = []
    updates: list[tuple[Equipment, CsvRow]] = []
    for row in rows:
        there = _which(site, row, existing.get(row.id, []))
        if isinstance(there, CsvProblem):
            problems.append(there)
            continue
        if there is None:
            asset = _new_asset(session, site, row)
            if isinstance(asset, list):
                problems.extend(asset)
            else:
                creates.append(asset)
            continue
        if row.connected is not None and row.connected != there.connected:
            problems.append(
                CsvProblem(
                    row.line,
                    "connected",
                    f"{row.id!r} is {'connected' if there.connected else 'register-only'}; "
                    "an import cannot change that",
                )
            )
        found = service.check_change(site, there, row.change)
        problems.extend(CsvProblem(row.line, f, p) for f, p in found)
        updates.append((there, row))
    if problems:
        raise invalid(source, problems)
    nested = session.begin_nested()
    created = []
    for asset in creates:
        session.add(service.new_row(site, asset))
        created.append(asset.id)
    updated = [there.id for there, row in updates if service.apply_change(there, row.change)]
    session.flush()
    if dry_run:
        nested.rollback()
    else:
        nested.commit()
    return ImportResult(
        rows=len(rows),
        created=created,
        updated=updated,
        unchanged=len(updates) - len(updated),
        dry_run=dry_run,
    )
