"""Command-line access to work orders and the monthly report.

`wo_app` (mounted as `plantroom wo`) talks to the cloud API over HTTP, as a technician would
from a terminal: `--url` (PLANTROOM_API_URL, default http://127.0.0.1:8000) and `--token`
(PLANTROOM_TOKEN). Every action is recorded in the audit trail with the channel `cli`.

    plantroom wo list --status open --mine
    plantroom wo ack WO-000042
    plantroom wo start 42 --note "on site"
    plantroom wo resolve 42 --note "strainer cleaned"

`report_command` (mounted as `plantroom report`) writes the monthly service report from the
database named by the settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 15.0

wo_app = typer.Typer(
    help="Work orders through the cloud API: list, show, acknowledge, start, resolve…",
    no_args_is_help=True,
)

Url = Annotated[
    str, typer.Option("--url", envvar="PLANTROOM_API_URL", help="the cloud API [PLANTROOM_API_URL]")
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="PLANTROOM_TOKEN", help="API token [PLANTROOM_TOKEN]"),
]
AsJson = Annotated[bool, typer.Option("--json", help="print the API's JSON answer")]
Ref = Annotated[str, typer.Argument(help="work order id (42) or number (WO-000042)")]
Note = Annotated[str | None, typer.Option("--note", "-n", help="a note for the audit trail")]


class ApiError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"plantroom: {message}", err=True)
    raise typer.Exit(code)


def call(
    url: str,
    token: str | None,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: list[tuple[str, str]] | None = None,
) -> Any:
    """One API call; the decoded JSON answer, or ApiError with the API's own message."""
    if not token:
        raise ApiError("no API token: pass --token or set PLANTROOM_TOKEN")
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "plantroom-cli"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=TIMEOUT_S) as client:
            response = client.request(
                method, path, json=body, params=tuple(params or ()), headers=headers
            )
    except httpx.HTTPError as exc:
        raise ApiError(f"cannot reach the cloud API at {url}: {exc}") from exc
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    if response.status_code >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        message = error.get("message") or response.text[:200] or response.reason_phrase
        code = error.get("code", "error")
        raise ApiError(f"{message} (HTTP {response.status_code} {code})", response.status_code)
    return data


def _run(url: str, token: str | None, method: str, path: str, **kw: Any) -> Any:
    try:
        return call(url, token, method, path, **kw)
    except ApiError as exc:
        _fail(exc.message, 2 if exc.status is None or exc.status == 401 else 1)


def _when(value: str | None) -> str:
    return "-" if not value else value.replace("T", " ").replace("Z", "")[:16]


def _row(wo: dict[str, Any]) -> str:
    where = wo.get("equipment_id") or wo.get("location") or "-"
    assignee = (wo.get("assignee") or {}).get("username") or "-"
    return (
        f"{wo['number']:<10} {wo['status']:<12} {wo['priority']:<9} {wo.get('building') or '-':<10}"
        f" {where:<12} {assignee:<10} {wo['title']}"
    )


def _show(wo: dict[str, Any]) -> None:
    typer.echo(f"{wo['number']}  {wo['title']}")
    assignee = (wo.get("assignee") or {}).get("username") or "nobody"
    typer.echo(
        f"  {wo['kind']} · {wo['priority']} · {wo['status']} · {wo.get('building') or '-'}"
        f" · {wo.get('equipment_id') or wo.get('location') or '-'} · owner {assignee}"
    )
    typer.echo(
        f"  acknowledge by {_when(wo.get('respond_due_at'))}"
        f" · complete by {_when(wo.get('resolve_due_at'))} (UTC)"
    )
    for event in wo.get("events", []):
        note = f": {event['note']}" if event.get("note") else ""
        typer.echo(
            f"  {_when(event['at'])}  {event['actor']:<10} {event['action']:<14}"
            f" [{event['channel']}]{note}"
        )


def _print(data: Any, as_json: bool, show: bool = True) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    elif show:
        _show(data)


@wo_app.command("list")
def list_command(
    url: Url = DEFAULT_URL,
    token: Token = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="open, acknowledged, … (repeat)")
    ] = None,
    priority: Annotated[list[str] | None, typer.Option("--priority", "-p")] = None,
    building: Annotated[str | None, typer.Option("--building", "-b")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="fault, pm or request")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="username")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="assigned to me")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="only overdue jobs")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    as_json: AsJson = False,
) -> None:
    """Work orders, newest first."""
    if mine:
        assignee = _run(url, token, "GET", "/api/me")["username"]
    params = [("status", s) for s in status or []] + [("priority", p) for p in priority or []]
    for name, value in (("building", building), ("kind", kind), ("assignee", assignee)):
        if value:
            params.append((name, value))
    if overdue:
        params.append(("overdue", "true"))
    params.append(("limit", str(limit)))
    page = _run(url, token, "GET", "/api/work-orders", params=params)
    if as_json:
        _print(page, True)
        return
    typer.echo(
        f"{'number':<10} {'status':<12} {'priority':<9} {'building':<10} {'equipment':<12}"
        f" {'owner':<10} title"
    )
    for wo in page["items"]:
        typer.echo(_row(wo))
    typer.echo(f"{len(page['items'])} of {page['total']}")


@wo_app.command("show")
def show_command(
    ref: Ref, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False
) -> None:
    """One work order with its audit trail."""
    _print(_run(url, token, "GET", f"/api/work-orders/{ref}"), as_json)


def _post(url: str, token: str | None, ref: str, what: str, **fields: Any) -> Any:
    """POST `fields` to a work order's `what` route, from the command line's channel."""
    return _run(
        url, token, "POST", f"/api/work-orders/{ref}/{what}", body=fields | {"channel": "cli"}
    )


def _action(
    action: str, ref: str, url: str, token: str | None, note: str | None, as_json: bool
) -> None:
    wo = _post(url, token, ref, action, note=note)
    if as_json:
        _print(wo, True)
    else:
        assignee = (wo.get("assignee") or {}).get("username") or "nobody"
        typer.echo(f"{wo['number']} is {wo['status']} (owner {assignee})")


def _note_optional(action: str) -> Callable[..., None]:
    def command(
        ref: Ref,
        url: Url = DEFAULT_URL,
        token: Token = None,
        note: Note = None,
        as_json: AsJson = False,
    ) -> None:
        _action(action, ref, url, token, note, as_json)

    return command


def _note_required(action: str, what: str) -> Callable[..., None]:
    def command(
        ref: Ref,
        note: str,
        url: Url = DEFAULT_URL,
        token: Token = None,
        as_json: AsJson = False,
    ) -> None:
        _action(action, ref, url, token, note, as_json)

    # the option's help says what the note is for
    command.__annotations__["note"] = Annotated[
        str, typer.Option("--note", "-n", help=f"{what} (required)")
    ]
    return command


# command: (the API's action, what the command does, what its required note says, if any)
ACTIONS: dict[str, tuple[str, str, str | None]] = {
    "ack": ("acknowledge", "Acknowledge: take the job (you become its owner).", None),
    "start": ("start", "Work has begun on site.", None),
    "hold": ("hold", "Pause the work, saying why.", "why"),
    "resume": ("resume", "Back to work after a hold.", None),
    "resolve": (
        "resolve",
        "The work is done (a fault job once its fault has cleared).",
        "what was done",
    ),
}
for _name, (_api_action, _doc, _note) in ACTIONS.items():
    _command = _note_optional(_api_action) if _note is None else _note_required(_api_action, _note)
    _command.__doc__ = _doc
    wo_app.command(_name)(_command)


@wo_app.command("comment")
def comment_command(
    ref: Ref,
    text: Annotated[str, typer.Argument(help="the comment")],
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Add a comment to the audit trail."""
    _post(url, token, ref, "comments", text=text)
    typer.echo("comment added")


@wo_app.command("assign")
def assign_command(
    ref: Ref,
    assignee: Annotated[str, typer.Argument(help="username")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    note: Note = None,
) -> None:
    """Give the job to someone (supervisors)."""
    wo = _post(url, token, ref, "assign", assignee=assignee, note=note)
    typer.echo(f"{wo['number']} assigned to {assignee}")


@wo_app.command("postpone")
def postpone_command(
    ref: Ref,
    until: Annotated[str, typer.Option("--until", help="new completion, e.g. 2026-11-20T17:00Z")],
    note: Annotated[str, typer.Option("--note", "-n", help="why (required)")],
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Move the promised completion, once."""
    wo = _post(url, token, ref, "postpone", until=until, note=note)
    typer.echo(f"{wo['number']} now due {_when(wo['resolve_due_at'])} UTC")


# -- the monthly report -------------------------------------------------------------------


def report_command(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, e.g. 2026-11")],
    building: Annotated[
        str | None, typer.Option("--building", "-b", help="one building (default: all)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="file to write; .pdf for PDF (default: HTML here)"),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="the report's language: en or zh (Simplified Chinese)")
    ] = "en",
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="[PLANTROOM_DATABASE_URL]")
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="[PLANTROOM_INVENTORY]")
    ] = None,
) -> None:
    """Write the monthly service report: the indicators with their targets, work orders by
    kind and priority, SLA compliance, recurring faults, problem equipment, PM done vs due."""
    from cloud.report.build import write_report
    from plantroom.errors import PlantroomError
    from plantroom.settings import CloudSettings, load_settings

    try:
        settings = load_settings(CloudSettings, database_url=database_url, inventory=inventory)
        path = write_report(settings, month=month, building=building, out=out, language=lang)
    except PlantroomError as exc:
        _fail(str(exc), 2)
    typer.echo(str(path))
