"""The page a message's link opens: `GET /ack/<token>` shows the job with an Acknowledge
button (a mail scanner that fetches the link changes nothing), `POST /ack/<token>`
acknowledges it as the person the link was sent to, once. A bad, expired, replayed or
someone else's link answers 403 or 410 with the reason; a client asking for JSON
(`Accept: application/json`) gets the API's error body instead of the page."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from cloud.deps import SessionDep, StateDep, one_writer
from cloud.errors import CloudError
from cloud.notify.acknowledge import acknowledge_by_link, carried, open_link
from cloud.notify.links import Gone
from cloud.notify.outbound import Outbound
from cloud.workorders.model import WorkOrder

router = APIRouter(tags=["notifications"], include_in_schema=False)

STATUS = {"link_expired": 410, "link_used": 410, "conflict": 409, "not_found": 404}


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Plantroom</title></head>"
        f'<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code)


def _job(wo: WorkOrder) -> str:
    where = ", ".join(x for x in (wo.building, wo.location) if x)
    return (
        f"<p><b>{escape(wo.number)}</b> ({escape(wo.priority.value)}, {escape(wo.status.value)})"
        f": {escape(wo.title)}</p><p>{escape(where)}</p>"
        f'<p><a href="/#/jobs/{escape(wo.number)}">Open in the console</a></p>'
    )


def _refusal(request: Request, exc: CloudError) -> Response:
    code = exc.code
    status = 410 if isinstance(exc, Gone) else STATUS.get(code, 403)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": {"code": code, "message": exc.message}}, status_code=status)
    return _page("This link cannot be used", f"<p>{escape(exc.message)}</p>", status)


def _outbound(request: Request) -> Outbound:
    found: Outbound = request.app.state.outbound
    return found


@router.get("/ack/{token}")
def show_link(token: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    try:
        row, user, wo = open_link(session, _outbound(request).links, token, now=state.clock())
    except CloudError as exc:
        return _refusal(request, exc)
    along = [session.get(WorkOrder, r.work_order_id) for r in carried(session, row)]
    others = "".join(_job(o) for o in along if o is not None and o.acknowledged_at is None)
    if others:
        others = "<p>This message's other jobs, acknowledged with it:</p>" + others
    form = (
        f'<form method="post"><button type="submit" style="font-size: 1.3em">'
        f"Acknowledge {escape(wo.number)} as {escape(user.display_name or user.username)}"
        "</button></form>"
    )
    done = "<p>This job is already acknowledged.</p>" if wo.acknowledged_at else form
    return _page(f"{wo.number}: {wo.title}", _job(wo) + others + done)


@router.post("/ack/{token}")
def use_link(token: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    try:
        with one_writer(session):
            done = acknowledge_by_link(
                session, _outbound(request).links, token, now=state.clock(), sla=state.sla
            )
            session.commit()
    except CloudError as exc:
        session.rollback()
        return _refusal(request, exc)
    wo = done[0]
    if "application/json" in request.headers.get("accept", ""):
        body: dict[str, object] = {"number": wo.number, "status": wo.status.value}
        if len(done) > 1:
            body["also"] = [o.number for o in done[1:]]
        return JSONResponse(body)
    return _page(f"{wo.number} acknowledged", "".join(_job(o) for o in done))
