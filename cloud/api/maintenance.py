"""Maintenance windows: equipment or a building in maintenance for a while, with a reason.
Anyone signed in may read them; supervisors, dispatchers and admins set and end them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.language import reader
from cloud.deps import CurrentUser, IdPath, SessionDep, SiteQuery, StateDep, answer, one_writer
from cloud.errors import InvalidInput
from cloud.maintenance import service
from cloud.maintenance.schemas import EndIn, MaintenanceIn, MaintenanceOut
from cloud.maintenance.window import Window
from cloud.schemas import READER
from cloud.state import AppState
from cloud.users.sites import check_place

ERRORS = errors(
    {403: "only supervisors, dispatchers and admins", 404: "no such window", 409: "already ended"}
)

router = APIRouter(tags=["maintenance"], responses={**AUTH_RESPONSES, **ERRORS})


def _changed(state: AppState, window: Window) -> None:
    """The fault path sees the change at once; the runner settles what is due."""
    if state.maintenance is not None:
        state.maintenance.board.put(window)
        state.maintenance.wake()


@router.post("/maintenance", response_model=MaintenanceOut, status_code=status.HTTP_201_CREATED)
def create_window(
    body: MaintenanceIn, session: SessionDep, state: StateDep, user: CurrentUser
) -> Response:
    """Put equipment (or every piece of a building) in maintenance. While the window runs,
    alarms of what it covers are recorded and shelved, and raise no work order and no
    notification; at its end, those still active go the normal way."""
    settings = state.settings
    now = state.clock()
    equipment = check_place(session, body.equipment_id, body.building, body.site)
    start = body.starts_at or now
    try:
        ends_at = body.ends_at or start + timedelta(minutes=body.minutes or 0)
    except OverflowError:
        raise InvalidInput(f"starts_at: {start.isoformat()} is too far ahead") from None
    with one_writer(session):
        window = service.create(
            session,
            user=user,
            equipment_id=body.equipment_id,
            site=equipment.site if equipment is not None else None,
            building=body.building,
            starts_at=body.starts_at,
            ends_at=ends_at,
            reason=body.reason,
            now=now,
            max_duration=timedelta(days=settings.maintenance_max_days),
            past_skew=timedelta(seconds=settings.maintenance_past_skew_s),
        )
        out = MaintenanceOut.model_validate(window, context={READER: reader(state, user)})
        view = Window.of(window)
        response = answer(session, out, status.HTTP_201_CREATED)
    _changed(state, view)
    return response


@router.get("/maintenance", response_model=list[MaintenanceOut])
def list_windows(
    session: SessionDep,
    state: StateDep,
    user: CurrentUser,
    current: Annotated[
        bool | None, Query(description="true: running now; false: the others")
    ] = None,
    equipment_id: Annotated[str | None, Query(max_length=64)] = None,
    building: Annotated[str | None, Query(max_length=64)] = None,
    site: SiteQuery = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 100,
) -> Response:
    """Windows, the latest starting first, with their audit trails. `equipment_id` gives the
    equipment's own and its building's; `building` the building's and its equipment's."""
    rows = service.search(
        session,
        now=state.clock(),
        current=current,
        equipment_id=equipment_id,
        building=building,
        site=site,
        limit=limit,
    )
    context = {READER: reader(state, user)}
    return answer(session, [MaintenanceOut.model_validate(r, context=context) for r in rows])


@router.get("/maintenance/{window_id}", response_model=MaintenanceOut)
def get_window(
    window_id: IdPath, session: SessionDep, state: StateDep, user: CurrentUser
) -> Response:
    """One window with its audit trail; what the service wrote in it in the caller's
    language."""
    window = service.get(session, window_id)
    return answer(
        session, MaintenanceOut.model_validate(window, context={READER: reader(state, user)})
    )


@router.post("/maintenance/{window_id}/end", response_model=MaintenanceOut)
def end_window(
    window_id: IdPath,
    session: SessionDep,
    state: StateDep,
    user: CurrentUser,
    body: EndIn | None = None,
) -> Response:
    """End a window before its planned end (or call off one not started). The alarms it
    holds that are still active go the normal way within seconds."""
    with one_writer(session):
        window = service.end_early(
            session, window_id, user=user, now=state.clock(), note=body.note if body else None
        )
        out = MaintenanceOut.model_validate(window, context={READER: reader(state, user)})
        view = Window.of(window)
        response = answer(session, out)
    _changed(state, view)
    return response
