"""`plantroom sim` sub-commands that live with the simulators.

    plantroom sim generate-site --buildings 10 --per-kind 25 --out var/big.yaml
    plantroom sim scenario --file sites/scenarios/burst-pipe-at-night.yaml

`stack.cli` calls `register(sim_app)` to add them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from plantroom.errors import PlantroomError

DEFAULT_URL = "http://127.0.0.1:8090"


def _fail(message: str) -> None:
    typer.echo(f"plantroom: {message}", err=True)
    raise typer.Exit(2)


def generate_site_command(
    buildings: Annotated[int, typer.Option("--buildings", "-b", min=1, help="buildings")],
    per_kind: Annotated[
        int, typer.Option("--per-kind", "-k", min=1, help="devices of each kind per building")
    ],
    base_port: Annotated[
        int, typer.Option("--base-port", "-p", min=1, max=65535, help="first Modbus TCP port")
    ] = 15020,
    site: Annotated[str, typer.Option("--site", help="site id")] = "generated",
    host: Annotated[str, typer.Option("--host", help="Modbus gateways' host")] = "127.0.0.1",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write here (default: standard output)")
    ] = None,
) -> None:
    """Write a site inventory: per-kind devices of each of the 4 kinds in every building."""
    from simulators.generate import generate_site

    try:
        text = generate_site(buildings, per_kind, base_port, site=site, host=host)
    except ValueError as exc:
        _fail(str(exc))
        return
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {out}: {buildings * per_kind * 4} devices", err=True)


def scenario_command(
    file: Annotated[Path, typer.Option("--file", "-f", help="scenario YAML")],
    url: Annotated[
        str, typer.Option("--url", help="simulator control endpoint", envvar="PLANTROOM_SIM_URL")
    ] = DEFAULT_URL,
) -> None:
    """Start a scenario on a running simulator (validated here first)."""
    from simulators.control import ControlClient
    from simulators.scenario import load_scenario

    try:
        scenario = load_scenario(file)
        summary = ControlClient(url).scenario(scenario)
    except PlantroomError as exc:
        _fail(str(exc))
        return
    typer.echo(json.dumps(summary, indent=2, sort_keys=True))


def register(sim_app: typer.Typer) -> None:
    """Add `generate-site` and `scenario` to the `plantroom sim` command group."""
    sim_app.command("generate-site")(generate_site_command)
    sim_app.command("scenario")(scenario_command)
