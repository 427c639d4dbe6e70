"""`plantroom assets …`: the asset register over the cloud API (`--url` PLANTROOM_API_URL,
`--token` PLANTROOM_TOKEN, a supervisor's or an admin's to change it).

    plantroom assets import sites/demo-assets.csv --dry-run
    plantroom assets import sites/demo-assets.csv
    plantroom assets export -o assets.csv
    plantroom assets list --register-only
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from cloud.assets.csvfile import MAX_BYTES
from cloud.cli import TIMEOUT_S, AsJson, Token, Url, _fail, _run

assets_app = typer.Typer(
    help="The asset register through the cloud API: import and export CSV, list.",
    no_args_is_help=True,
)
Building = Annotated[str | None, typer.Option(help="this building only")]
Connected = Annotated[
    bool | None,
    typer.Option(
        "--connected/--register-only", help="connected equipment only, or register-only assets"
    ),
]


def _send(url: str, token: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
    """One call; the answer, or exit with the API's own message (a CSV's every bad row)."""
    if not token:
        _fail("no API token: pass --token or set PLANTROOM_TOKEN", 2)
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "plantroom-cli"}
    headers.update(kw.pop("headers", {}))
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=TIMEOUT_S) as client:
            response = client.request(method, path, headers=headers, **kw)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the cloud API at {url}: {exc}", 2)
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
        except (ValueError, AttributeError):
            error = {}
        message = error.get("message") or response.text[:200] or response.reason_phrase
        code = error.get("code", "error")
        _fail(
            f"{message}\n(HTTP {response.status_code} {code})",
            2 if response.status_code == 401 else 1,
        )
    return response


@assets_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="the CSV file (docs/assets.md has its columns)")],
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only; change nothing")] = False,
    as_json: AsJson = False,
) -> None:
    """Add and update assets from a CSV file: all or nothing, every bad row named."""
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            _fail(f"{file}: {size} bytes; the limit is {MAX_BYTES}")
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"{file}: {exc.strerror or exc}")
    response = _send(
        url,
        token,
        "POST",
        "/api/assets/import",
        content=data,
        params={"filename": str(file)[-128:], "dry_run": str(dry_run).lower()},
        headers={"Content-Type": "text/csv"},
    )
    result = response.json()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    verb = "would be" if result["dry_run"] else "were"
    rows = f"{result['rows']} row{'' if result['rows'] == 1 else 's'}"
    typer.echo(
        f"{file}: {rows}; {len(result['created'])} {verb} added, "
        f"{len(result['updated'])} {verb} updated, {result['unchanged']} unchanged"
    )
    for ident in result["created"]:
        typer.echo(f"  + {ident}")
    for ident in result["updated"]:
        typer.echo(f"  ~ {ident}")


@assets_app.command("export")
def export_command(
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: standard output)")
    ] = None,
    building: Building = None,
    connected: Connected = None,
) -> None:
    """The register as CSV (imports back unchanged)."""
    params = {"building": building} if building else {}
    if connected is not None:
        params["connected"] = str(connected).lower()
    text = _send(url, token, "GET", "/api/assets.csv", params=params).text
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    typer.echo(f"{output}: {max(text.count(chr(10)) - 1, 0)} assets")


@assets_app.command("list")
def list_command(
    url: Url = "http://127.0.0.1:8000",
    token: Token = None,
    building: Building = None,
    connected: Connected = None,
    q: Annotated[str | None, typer.Option("--search", "-s", help="text in id, name, make…")] = None,
    as_json: AsJson = False,
) -> None:
    """Equipment and assets with their register fields."""
    params = [(k, v) for k, v in (("building", building), ("q", q)) if v]
    if connected is not None:
        params.append(("connected", str(connected).lower()))
    page = _run(url, token, "GET", "/api/assets", params=params)
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    typer.echo(f"{'id':<20} {'kind':<16} {'building':<12} {'make / model':<28} warranty end")
    for e in page["items"]:
        made = " ".join(p for p in (e.get("make"), e.get("model")) if p) or "-"
        typer.echo(
            f"{e['id']:<20} {e['kind']:<16} {e['building']:<12} {made[:28]:<28} "
            f"{e.get('warranty_end') or '-'}"
        )
