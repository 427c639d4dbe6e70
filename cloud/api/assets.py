"""The asset register: register-only assets (added, changed and retired by a supervisor or
an admin), the register fields of any equipment, and the register as a CSV file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status
from sqlalchemy.orm import Session

from cloud import registry
from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.assets import csvfile, importer, service
from cloud.assets.kinds import ASSET_KINDS
from cloud.assets.schemas import AssetChange, AssetIn, AssetKindOut, ImportResult
from cloud.assets.service import SiteScope
from cloud.deps import (
    CurrentUser,
    OfficeUser,
    SessionDep,
    SiteQuery,
    StateDep,
    answer,
    one_writer,
)
from cloud.enums import TRADE_OF_KIND
from cloud.errors import InvalidInput
from cloud.schemas import EquipmentOut, EquipmentPage, ErrorBody
from cloud.users.sites import access_of
from plantroom.kinds import KINDS

router = APIRouter(tags=["assets"], responses=AUTH_RESPONSES)
EquipmentId = Annotated[str, Path(max_length=64, description="the equipment's id")]
CHANGE_ERRORS = errors(
    {
        403: "supervisors and admins only",
        404: "no such equipment",
        409: "the id is taken, retired, or the inventory's",
    }
)
CSV_BODY = Body(
    media_type="text/csv",
    description=f"a CSV file, UTF-8, at most {csvfile.MAX_BYTES} bytes and "
    f"{csvfile.MAX_ROWS} rows (docs/assets.md)",
)


def _scope(state: StateDep, session: Session) -> SiteScope:
    """The register's buildings: those of the caller's sites."""
    return SiteScope.of(state.sites, access_of(session).sites)


@router.get("/asset-kinds", response_model=list[AssetKindOut])
def list_kinds(user: CurrentUser) -> list[AssetKindOut]:
    """Every kind equipment may have: the telemetry kinds (the inventory's) and the
    register-only kinds."""
    telemetry = [
        AssetKindOut(
            id=k,
            title=k.replace("_", " ").capitalize(),
            trade=TRADE_OF_KIND[k].value,
            connected=True,
        )
        for k in KINDS
    ]
    register = [
        AssetKindOut(id=k.id, title=k.title, trade=k.trade.value, connected=False)
        for k in ASSET_KINDS.values()
    ]
    return telemetry + register


@router.get("/assets", response_model=EquipmentPage)
def list_assets(
    session: SessionDep,
    user: CurrentUser,
    building: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    connected: Annotated[bool | None, Query(description="false: register-only assets")] = None,
    q: Annotated[
        str | None,
        Query(max_length=64, description="in the id, name, make, model, serial or supplier"),
    ] = None,
    include_retired: bool = False,
) -> Response:
    """Equipment with its register fields, connected or not (at most 5000)."""
    rows = registry.search(
        session,
        building=building,
        kind=kind,
        connected=connected,
        text=q,
        include_retired=include_retired,
        sites=access_of(session).sites,
        limit=service.MAX_LIST,
    )
    items = [EquipmentOut.model_validate(r) for r in rows]
    return answer(session, EquipmentPage(items=items, total=len(items)))


@router.get(
    "/assets.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the register as CSV"}},
)
def export_assets(
    session: SessionDep,
    user: CurrentUser,
    building: Annotated[str | None, Query(max_length=64)] = None,
    connected: Annotated[bool | None, Query()] = None,
) -> Response:
    """The register as a CSV file (every column; imports back unchanged): at most as many
    rows as an import takes, else 422 asking for one building at a time."""
    rows = registry.search(
        session,
        building=building,
        connected=connected,
        sites=access_of(session).sites,
        limit=csvfile.MAX_ROWS + 1,
    )
    if len(rows) > csvfile.MAX_ROWS:
        raise InvalidInput(
            f"more than {csvfile.MAX_ROWS} rows, the most a file may hold; export one building "
            "at a time (?building=)"
        )
    text = csvfile.export(rows)
    session.commit()
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="assets.csv"'},
    )


@router.post(
    "/assets/import",
    response_model=ImportResult,
    responses={
        **CHANGE_ERRORS,
        422: {"model": ErrorBody, "description": "bad rows: `FILE:LINE: field: problem`"},
    },
)
def import_assets(
    state: StateDep,
    session: SessionDep,
    user: OfficeUser,
    data: Annotated[bytes, CSV_BODY],
    filename: Annotated[
        str, Query(max_length=128, description="the file's name, for the messages")
    ] = "assets.csv",
    dry_run: Annotated[bool, Query(description="check only; change nothing")] = False,
) -> Response:
    """Add and update assets from a CSV file, all or nothing: a file with any bad row changes
    nothing and is answered 422 with every problem (`details`: line, field, problem)."""
    with one_writer(session):
        result = importer.import_csv(
            session, _scope(state, session), data, filename, dry_run=dry_run
        )
        return answer(session, result)


@router.post(
    "/assets",
    response_model=EquipmentOut,
    status_code=status.HTTP_201_CREATED,
    responses=CHANGE_ERRORS,
)
def create_asset(state: StateDep, session: SessionDep, user: OfficeUser, body: AssetIn) -> Response:
    """Register an asset that has no connection (a register-only asset)."""
    with one_writer(session):
        row = service.create(session, _scope(state, session), body)
        return answer(session, EquipmentOut.model_validate(row), status.HTTP_201_CREATED)


@router.get("/assets/{equipment_id}", response_model=EquipmentOut, responses=CHANGE_ERRORS)
def get_asset(
    equipment_id: EquipmentId, session: SessionDep, user: CurrentUser, site: SiteQuery = None
) -> Response:
    """`site`: the equipment's, when its id is used at several of the caller's sites."""
    found = registry.get(session, equipment_id, site)
    return answer(session, EquipmentOut.model_validate(found))


@router.patch("/assets/{equipment_id}", response_model=EquipmentOut, responses=CHANGE_ERRORS)
def change_asset(
    equipment_id: EquipmentId,
    state: StateDep,
    session: SessionDep,
    user: OfficeUser,
    body: AssetChange,
    site: SiteQuery = None,
) -> Response:
    """Change the register fields of any equipment, and the kind, building, floor, zone and
    name of a register-only asset (the inventory owns those of connected equipment). A field
    left out is kept; null clears it."""
    with one_writer(session):
        row = service.update(session, _scope(state, session), equipment_id, body, site)
        return answer(session, EquipmentOut.model_validate(row))


@router.post("/assets/{equipment_id}/retire", response_model=EquipmentOut, responses=CHANGE_ERRORS)
def retire_asset(
    equipment_id: EquipmentId,
    state: StateDep,
    session: SessionDep,
    user: OfficeUser,
    site: SiteQuery = None,
) -> Response:
    """Retire a register-only asset: it leaves the lists, PM plans and indicators; its jobs
    and history stay, and its id is not used again."""
    with one_writer(session):
        row = service.retire(session, _scope(state, session), equipment_id, site)
        return answer(session, EquipmentOut.model_validate(row))
