"""The occupants' side, without a token: report a problem (`POST /api/public/requests`, a
form with an optional photo), follow it (`GET /api/public/requests/{reference}`), answer
"fixed?", look up what a location code names; and the two public pages, `/report/{code}`
and `/track/{reference}`.

Reports are bounded per client address and per place: the piece of equipment (by site and
id) or the building a location code names (in this process; see `cloud.requests.limits`).
A form whose hidden `website` field is filled in was filled by a robot: it is answered like
any other and dropped, and counted."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Annotated

from fastapi import (
    APIRouter,
    FastAPI,
    File,
    Form,
    Header,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from cloud.api.console import CONSOLE_DIR, PAGE_HEADERS
from cloud.api.errors import errors
from cloud.deps import SessionDep, StateDep, answer, app_attribute, one_writer
from cloud.equipment import Equipment, key
from cloud.errors import InvalidInput, NotFound
from cloud.requests import confirm, intake
from cloud.requests.desk import HONEYPOT_COUNTER, ServiceDesk, bump
from cloud.requests.messages import pick_lang
from cloud.requests.photos import clean_photo
from cloud.requests.schemas import AnswerIn, Created, LocationOut, Tracked, stage_of, tracked
from cloud.requests.updates import sync
from cloud.schemas import ErrorBody

router = APIRouter(prefix="/public", tags=["public requests"])
DeskDep = Annotated[ServiceDesk, app_attribute(ServiceDesk, "desk")]
NOT_FOUND = errors({404: "no request has this reference"})
REPORT_ERRORS = errors(
    {
        413: "the photo is too large",
        422: "a field is missing or wrong; the message names it",
        429: "too many reports from this address or location",
    }
)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _place(session: Session, code: str, site: str | None) -> str:
    """What the per-location limit counts a report against: the piece of equipment (its site
    and id, so two sites' `pump-1` are two places) or the building the code names. A code
    that names nothing is refused here, naming the code, before anything is counted."""
    building, equipment = intake.resolve_location(session, code.strip(), site)
    return key(equipment.site, equipment.id) if equipment is not None else building


@router.post("/requests", response_model=Created, status_code=201, responses=REPORT_ERRORS)
def report(
    request: Request,
    state: StateDep,
    session: SessionDep,
    desk: DeskDep,
    code: Annotated[str, Form(max_length=64, description="equipment or building id")],
    what: Annotated[str, Form(max_length=2000, description="what is wrong")],
    category: Annotated[str | None, Form(max_length=32)] = None,
    site: Annotated[
        str | None, Form(max_length=64, description="the equipment's site, from the label")
    ] = None,
    place: Annotated[str | None, Form(max_length=200, description="where exactly")] = None,
    name: Annotated[str | None, Form(max_length=100)] = None,
    phone: Annotated[str | None, Form(max_length=32)] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
    lang: Annotated[str | None, Form(max_length=16)] = None,
    website: Annotated[str | None, Form(max_length=200, description="leave empty")] = None,
    photo: Annotated[UploadFile | None, File(description="JPEG, PNG or WebP")] = None,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Report a problem, no token needed. The answer's `reference` and `link` let the
    reporter follow the repair and confirm the fix."""
    config = desk.config
    now = state.clock()
    if website:
        with one_writer(session):
            bump(session, HONEYPOT_COUNTER)
            fake = secrets.token_urlsafe(16)  # answered like a real report, nothing kept
            promised = state.sla.due(config.categories.get("other").urgency, now).resolve
            body = Created(
                reference=fake, link=config.link(fake), stage="received", promised_by=promised
            )
            return answer(session, body, 201)
    address = _address(request)
    where = _place(session, code, site or None)
    wait, which = desk.limits.check(address, where, now)
    if wait:
        raise HTTPException(
            429,
            f"too many reports from this {which} just now; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    given = intake.Report(
        code=code,
        site=site or None,
        what=what,
        category=category or None,
        place=place,
        name=name,
        phone=phone,
        email=email,
        lang=pick_lang(lang or accept_language),
    )
    intake.check_contact(given, contact=config.contact, name_required=config.name_required)
    cleaned = None
    if photo is not None and photo.filename:
        data = photo.file.read(config.photo_max_bytes + 1)
        cleaned = clean_photo(data, max_bytes=config.photo_max_bytes)
    if cleaned is not None:
        given = replace(given, photo=cleaned)
    with one_writer(session):
        created = intake.submit(session, given, now=now, sla=state.sla, config=config)
        desk.limits.record(address, where, now)
        wo = created.work_order
        body = Created(
            reference=created.token,
            link=config.link(created.token),
            stage=stage_of(wo),
            promised_by=wo.resolve_due_at if wo else None,
        )
        return answer(session, body, 201)


def _tracked(session: SessionDep, token: str) -> Tracked:
    found = confirm.by_token(session, token)
    name = None
    if found.equipment_id is not None and found.site is not None:
        equipment = session.get(Equipment, (found.site, found.equipment_id))
        name = equipment.name or equipment.id if equipment is not None else None
    count = intake.reporters(session, found.work_order_id) if found.work_order_id else 1
    return tracked(found, count, name)


@router.get("/requests/{reference}", response_model=Tracked, responses=NOT_FOUND)
def track(reference: str, session: SessionDep, desk: DeskDep) -> Response:
    """Where the request stands, what happened so far, and whether "fixed?" awaits an answer.
    The job's latest changes are turned into the reporter's updates first (as the desk's
    ticker does), so the page is never behind the job."""
    found = confirm.by_token(session, reference)
    with one_writer(session):
        sync(session, desk.config, request_ids=[found.id])
        return answer(session, _tracked(session, reference))


@router.post(
    "/requests/{reference}/answer",
    response_model=Tracked,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "not asked yet, or already answered"},
    },
)
def answer_fixed(
    reference: str, body: AnswerIn, state: StateDep, session: SessionDep, desk: DeskDep
) -> Response:
    """The reporter's answer to "fixed?": yes closes the job as confirmed, no reopens it."""
    with one_writer(session):
        confirm.answer(
            session,
            reference,
            fixed=body.fixed,
            now=state.clock(),
            sla=state.sla,
            config=desk.config,
        )
        session.flush()
        return answer(session, _tracked(session, reference))


@router.get("/locations/{code}", response_model=LocationOut, responses=NOT_FOUND)
def location(
    code: str,
    session: SessionDep,
    desk: DeskDep,
    site: Annotated[str | None, Query(max_length=64, description="from the label")] = None,
) -> Response:
    """What a location code names, for the report page to show and prefill."""
    try:
        building, equipment = intake.resolve_location(session, code, site)
    except InvalidInput as exc:
        raise NotFound(f"no equipment or building has the code {code[:64]!r}") from exc
    config = desk.config
    kind = equipment.kind if equipment is not None else None
    return answer(
        session,
        LocationOut(
            code=code,
            site=equipment.site if equipment is not None else None,
            building=building,
            equipment_id=equipment.id if equipment is not None else None,
            equipment_name=equipment.name if equipment is not None else None,
            kind=kind,
            category=config.categories.for_kind(kind),
            categories=list(config.categories.categories),
            contact=config.contact,
            name_required=config.name_required,
            photo_max_bytes=config.photo_max_bytes,
        ),
    )


def report_page(code: str) -> FileResponse:
    return FileResponse(CONSOLE_DIR / "report.html", headers=PAGE_HEADERS)


def track_page(reference: str) -> FileResponse:
    return FileResponse(CONSOLE_DIR / "track.html", headers=PAGE_HEADERS)


def install(app: FastAPI) -> None:
    """The public API under /api/public and the two public pages."""
    app.include_router(router, prefix="/api")
    app.add_api_route("/report/{code}", report_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/track/{reference}", track_page, methods=["GET"], include_in_schema=False)
