"""`plantroom dashboards …`: generate the dashboard JSON and upload it to Grafana."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dashboards.build import GENERATED_DIR, load_generated, stale_files, write_generated
from dashboards.grafana import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from dashboards.profiles import DEFAULT_PROFILES_DIR
from plantroom.errors import PlantroomError

app = typer.Typer(
    help="Grafana dashboards as code: generate them, check them, upload them.",
    no_args_is_help=True,
    add_completion=False,
)

OutDir = Annotated[
    Path, typer.Option("--out", "-o", help="directory of the generated dashboard JSON")
]
SourceDir = Annotated[
    Path, typer.Option("--from", help="directory of the dashboard JSON to upload")
]
ProfilesDir = Annotated[
    Path, typer.Option("--profiles", help="device profiles the dashboards are checked against")
]


def _fail(exc: PlantroomError) -> None:
    typer.echo(f"plantroom: {exc}", err=True)
    raise typer.Exit(2)


@app.command()
def build(
    out: OutDir = GENERATED_DIR,
    profiles: ProfilesDir = DEFAULT_PROFILES_DIR,
    check: Annotated[
        bool,
        typer.Option("--check", help="write nothing; exit 1 if the files are not up to date"),
    ] = False,
) -> None:
    """Generate every dashboard into OUT (one <uid>.json each)."""
    try:
        if check:
            problems = stale_files(out, profiles)
            for problem in problems:
                typer.echo(f"{out}/{problem}", err=True)
            if problems:
                typer.echo("run `plantroom dashboards build` and commit the result", err=True)
                raise typer.Exit(1)
            typer.echo(f"{out}: dashboards are up to date")
            return
        for path in write_generated(out, profiles):
            typer.echo(str(path))
    except PlantroomError as exc:
        _fail(exc)


@app.command()
def push(
    grafana_url: Annotated[
        str,
        typer.Option("--grafana-url", help="e.g. http://localhost:3000", envvar="GRAFANA_URL"),
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            help="Grafana service account token (Editor role)",
            envvar="GRAFANA_TOKEN",
        ),
    ],
    source: SourceDir = GENERATED_DIR,
    folder_uid: Annotated[str, typer.Option(help="Grafana folder uid")] = FOLDER_UID,
    folder_title: Annotated[str, typer.Option(help="Grafana folder title")] = FOLDER_TITLE,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each request")] = 10.0,
) -> None:
    """Upload the generated dashboards to an existing Grafana, overwriting them by uid."""
    from dashboards.push import push_dashboards  # the HTTP client loads only when needed

    try:
        report = push_dashboards(
            load_generated(source),
            grafana_url,
            token,
            folder_uid=folder_uid,
            folder_title=folder_title,
            timeout=timeout,
        )
    except PlantroomError as exc:
        _fail(exc)
        return
    for d in report.dashboards:
        version = f" (version {d.version})" if d.version is not None else ""
        typer.echo(f"{d.uid}: {d.title}{version} {d.url}")
    if not report.datasource_found:
        typer.echo(
            f"warning: this Grafana has no datasource with uid {DATASOURCE_UID}; choose the "
            "InfluxDB datasource in each dashboard's 'Data source' variable, or provision "
            "dashboards/provisioning/datasources/influxdb.yaml",
            err=True,
        )
