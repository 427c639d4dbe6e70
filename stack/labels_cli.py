"""`plantroom labels`: an A4 PDF sheet of QR labels for a building's equipment (stack.labels,
imported when the command runs: the PDF and QR libraries load only for it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plantroom.errors import PlantroomError
from stack.site_cli import _fail


def labels(
    inventory: Annotated[
        Path,
        typer.Option("--inventory", "-i", envvar="PLANTROOM_INVENTORY", help="site inventory"),
    ],
    building: Annotated[str, typer.Option("--building", "-b", help="the building's id")],
    url: Annotated[
        str, typer.Option("--url", help="the console's address, e.g. https://console.example")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="the PDF file to write")],
    font: Annotated[
        Path | None,
        typer.Option(help="a TrueType font for names beyond Latin-1 (e.g. Chinese)"),
    ] = None,
    assets: Annotated[
        Path | None,
        typer.Option(help="an asset register file (`assets export`): its assets get labels too"),
    ] = None,
) -> None:
    """Write an A4 PDF sheet of QR labels, one per piece of equipment of a building; each
    QR code opens `<url>/equipment/<id>?site=<site>` in the console."""
    from plantroom.inventory import load_inventory
    from stack.labels import write_sheet

    try:
        count = write_sheet(load_inventory(inventory), building, url, out, font=font, assets=assets)
    except PlantroomError as exc:
        _fail(exc)
        return
    typer.echo(f"{out}: {count} labels for building {building}")
