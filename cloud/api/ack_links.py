"""The page a message's link opens: `GET /ack/<token>` shows the job with an Acknowledge
button (a mail scanner that fetches the link changes nothing), `POST /ack/<token>`
acknowledges it as the person the link was sent to, once. A bad, expired, replayed or
someone else's link answers 403 or 410 with the reason; a client asking for JSON
(`Accept: application/json`) gets the API's error body instead of the page. The page is in
the language of the person the link was sent to (a refusal, whose person is not known: in the
browser's `Accept-Language`), from `templates/ack_link.html` and the catalog of
`cloud.locale`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from cloud.api.language import text_in
from cloud.deps import SessionDep, StateDep, one_writer
from cloud.errors import CloudError
from cloud.locale import N_, Text, labels, templates
from cloud.locale.shipped import shipped
from cloud.notify.acknowledge import acknowledge_by_link, carried, open_link
from cloud.notify.links import Gone
from cloud.notify.outbound import Outbound
from cloud.state import AppState
from cloud.users.model import User
from cloud.workorders.model import WorkOrder

router = APIRouter(tags=["notifications"], include_in_schema=False)

STATUS = {"link_expired": 410, "link_used": 410, "conflict": 409, "not_found": 404}
TEMPLATES = Path(__file__).with_name("templates")
# why a link cannot be used, for the person holding it (other refusals say the API's message)
REASONS = {
    "link_invalid": N_(
        "This link is not valid: it was changed, this service did not make it, or its job or "
        "person is gone."
    ),
    "link_expired": N_("This link has expired: open the job in the console instead."),
    "link_used": N_("This link was already used."),
    "link_not_yours": N_("This job is someone else's now: the link no longer acknowledges it."),
}


def _page(text: Text, title: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    page = templates(TEMPLATES, text.language).get_template("ack_link.html")
    shown: dict[str, Any] = {
        "jobs": [], "others": [], "acknowledge_as": None, "already": False, "reason": None,
    }  # fmt: skip
    html = page.render(html_lang=text.html_lang, title=title, **(shown | values))
    return HTMLResponse(html, status_code=status_code)


def _job(text: Text, wo: WorkOrder) -> dict[str, str]:
    return {
        "number": wo.number,
        "priority": labels.priority(text, wo.priority),
        "status": labels.status(text, wo.status),
        "title": shipped(text, wo.title),
        "where": ", ".join(x for x in (wo.building, wo.location) if x),
    }


def _refusal(request: Request, state: AppState, exc: CloudError) -> Response:
    """The reason in the language the browser asks for (the link's person is not known)."""
    code = exc.code
    status = 410 if isinstance(exc, Gone) else STATUS.get(code, 403)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": {"code": code, "message": exc.message}}, status_code=status)
    text = text_in(state, request.headers.get("accept-language"))
    reason = text._(REASONS[code]) if code in REASONS else exc.message
    return _page(text, text._("This link cannot be used"), status, reason=reason)


def _outbound(request: Request) -> Outbound:
    found: Outbound = request.app.state.outbound
    return found


@router.get("/ack/{token}")
def show_link(token: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    """The job with an Acknowledge button, in the language of the person the link was sent
    to."""
    try:
        row, user, wo = open_link(session, _outbound(request).links, token, now=state.clock())
    except CloudError as exc:
        return _refusal(request, state, exc)
    text = text_in(state, user.language)
    along = [session.get(WorkOrder, r.work_order_id) for r in carried(session, row)]
    others = [_job(text, o) for o in along if o is not None and o.acknowledged_at is None]
    return _page(
        text,
        f"{wo.number}: {shipped(text, wo.title)}",
        jobs=[_job(text, wo)],
        others=others,
        acknowledge_as=None if wo.acknowledged_at else user.display_name or user.username,
        already=wo.acknowledged_at is not None,
    )


@router.post("/ack/{token}")
def use_link(token: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    links, now = _outbound(request).links, state.clock()
    try:
        with one_writer(session):
            done = acknowledge_by_link(session, links, token, now=now, sla=state.sla)
            session.commit()
    except CloudError as exc:
        session.rollback()
        return _refusal(request, state, exc)
    wo = done[0]
    if "application/json" in request.headers.get("accept", ""):
        body: dict[str, object] = {"number": wo.number, "status": wo.status.value}
        if len(done) > 1:
            body["also"] = [o.number for o in done[1:]]
        return JSONResponse(body)
    person = session.get(User, links.check(token, now=now).user_id)  # the link just worked
    text = text_in(state, person.language if person is not None else None)
    title = text._("{number} acknowledged").format(number=wo.number)
    return _page(text, title, jobs=[_job(text, o) for o in done])
