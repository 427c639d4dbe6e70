"""`plantroom oncall …`: who is on call, a team's rota, and the overrides and swaps a
supervisor sets, over the cloud API (`--url` PLANTROOM_API_URL, `--token` PLANTROOM_TOKEN).

    plantroom oncall now --building tower-a
    plantroom oncall show tower-a-lifts
    plantroom oncall override tower-a-lifts tech2 \
        --from 2026-03-03T18:00+08:00 --until 2026-03-04T08:00+08:00
    plantroom oncall swap tower-a-lifts 2026-03-03T12:00Z 2026-03-10T12:00Z
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cloud.cli import AsJson, Token, Url, _run, _when

oncall_app = typer.Typer(
    help="On-call rotas through the cloud API: who is on call, rotas, overrides, swaps.",
    no_args_is_help=True,
)

TeamArg = Annotated[str, typer.Argument(help="team name, e.g. tower-a-lifts")]
At = Annotated[str | None, typer.Option("--at", help="an ISO time with its zone; now if not given")]
Note = Annotated[str | None, typer.Option("--note", "-n", help="why, for the record")]


def _who(person: dict[str, Any] | None) -> str:
    return person["username"] if person else "-"


def _print(data: Any, as_json: bool) -> bool:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    return as_json


@oncall_app.command("now")
def now(
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    building: Annotated[str | None, typer.Option(help="teams of this building")] = None,
    team: Annotated[str | None, typer.Option(help="this team only")] = None,
    at: At = None,
    as_json: AsJson = False,
) -> None:
    """Who is on call for each team, now or --at."""
    params = [(k, v) for k, v in (("building", building), ("team", team), ("at", at)) if v]
    rows = _run(url, token, "GET", "/api/oncall", params=params)
    if _print(rows, as_json):
        return
    typer.echo(
        f"{'team':<24} {'on call':<10} {'backup':<10} {'supervisor':<10} {'manager':<10} until"
    )
    for r in rows:
        until = _when(r["shift"]["ends_at"]) if r["shift"] else "-"
        typer.echo(
            f"{r['team']:<24} {_who(r['primary']):<10} {_who(r['backup']):<10}"
            f" {_who(r['supervisor']):<10} {_who(r['manager']):<10} {until}"
            + ("" if r["has_rota"] else "  (no rota: the whole team)")
        )


@oncall_app.command("show")
def show(
    team: TeamArg,
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    count: Annotated[int, typer.Option(help="shifts to list", min=1, max=60)] = 14,
    at: At = None,
    as_json: AsJson = False,
) -> None:
    """A team's rota: its settings, the coming shifts and the covers not yet over."""
    params = [("count", str(count))] + ([("at", at)] if at else [])
    rota = _run(url, token, "GET", f"/api/oncall/rotas/{team}", params=params)
    if _print(rota, as_json):
        return
    members = ", ".join(m["username"] for m in rota["members"])
    typer.echo(
        f"{rota['team']}: {rota['rotation']}, hand-over {rota['handover']} {rota['timezone']},"
        f" from {rota['starts_on']}; in turn: {members}"
    )
    days = ",".join(str(d) for d in rota["work_days"])
    typer.echo(
        f"  routine jobs: {rota['routine']} (hours {rota['hours_start']}-{rota['hours_end']}"
        f" on days {days}; digest at {rota['digest_at']})"
    )
    typer.echo("  shifts (UTC):")
    for s in rota["shifts"]:
        typer.echo(
            f"    {_when(s['starts_at'])} → {_when(s['ends_at'])}  {_who(s['scheduled']):<10}"
            f" backup {_who(s['backup'])}"
        )
    for c in rota["covers"]:
        typer.echo(
            f"  {c['kind']} #{c['id']}: {c['user']['username']} {_when(c['starts_at'])}"
            f" → {_when(c['ends_at'])}" + (f" ({c['note']})" if c["note"] else "")
        )


@oncall_app.command("override")
def override(
    team: TeamArg,
    user: Annotated[str, typer.Argument(help="who covers")],
    start: Annotated[str, typer.Option("--from", help="ISO time with its zone")],
    end: Annotated[str, typer.Option("--until", help="ISO time with its zone")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    note: Note = None,
    as_json: AsJson = False,
) -> None:
    """Put someone on call for a time range (supervisors)."""
    body = {"user": user, "starts_at": start, "ends_at": end, "note": note}
    cover = _run(url, token, "POST", f"/api/oncall/rotas/{team}/overrides", body=body)
    if not _print(cover, as_json):
        typer.echo(
            f"override #{cover['id']}: {user} on call {_when(cover['starts_at'])}"
            f" → {_when(cover['ends_at'])} UTC"
        )


@oncall_app.command("swap")
def swap(
    team: TeamArg,
    first: Annotated[str, typer.Argument(help="a time in the first shift (ISO, with zone)")],
    second: Annotated[str, typer.Argument(help="a time in the second shift")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    note: Note = None,
    as_json: AsJson = False,
) -> None:
    """The people on duty at FIRST and SECOND exchange those shifts (supervisors)."""
    body = {"first": first, "second": second, "note": note}
    rows = _run(url, token, "POST", f"/api/oncall/rotas/{team}/swaps", body=body)
    if not _print(rows, as_json):
        for c in rows:
            typer.echo(
                f"swap #{c['id']}: {c['user']['username']} on call {_when(c['starts_at'])}"
                f" → {_when(c['ends_at'])} UTC"
            )
