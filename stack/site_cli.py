"""`plantroom run` and `plantroom servers`: a real site on this machine (stack.runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plantroom.errors import PlantroomError


def _fail(exc: PlantroomError) -> None:
    typer.echo(f"plantroom: {exc}", err=True)
    raise typer.Exit(2)


VarOpt = Annotated[Path, typer.Option("--var", help="where data, logs and logins go")]
MqttPortOpt = Annotated[
    int, typer.Option("--mqtt-port", envvar="PLANTROOM_MQTT_PORT", help="the managed broker's")
]
InfluxPortOpt = Annotated[
    int, typer.Option("--influx-port", envvar="PLANTROOM_INFLUX_PORT", help="the managed influxd's")
]
PostgresOpt = Annotated[
    bool, typer.Option("--postgres", help="run a PostgreSQL cluster in <var>/postgres")
]
PostgresPortOpt = Annotated[int, typer.Option(envvar="PLANTROOM_POSTGRES_PORT")]


def run(
    inventory: Annotated[Path, typer.Option("--inventory", "-i", help="the site inventory")],
    profiles: Annotated[
        Path | None,
        typer.Option("--profiles", help="the site's own device-profile folder (edge and cloud)"),
    ] = None,
    var_dir: VarOpt = Path("var"),
    api_port: Annotated[int, typer.Option(envvar="PLANTROOM_API_PORT")] = 8000,
    mqtt_port: MqttPortOpt = 1883,
    influx_port: InfluxPortOpt = 8086,
    mqtt_url: Annotated[
        str | None,
        typer.Option(help="an external broker, mqtt(s)://host:port, instead of a managed one"),
    ] = None,
    influx_url: Annotated[
        str | None,
        typer.Option(
            envvar="PLANTROOM_INFLUX_URL",
            help="an external InfluxDB, http(s)://host:port, instead of a managed one",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="PLANTROOM_DATABASE_URL",
            help="the cloud's database; default SQLite in <var>/cloud/",
        ),
    ] = None,
    postgres: PostgresOpt = False,
    postgres_port: PostgresPortOpt = 5432,
    fresh: Annotated[bool, typer.Option(help="start from empty data under --var")] = False,
) -> None:
    """Run a site for its real equipment: servers, an edge agent per building, gateway, cloud."""
    from stack.runner import Stack, StackPorts

    try:
        Stack(
            StackPorts(api=api_port, mqtt=mqtt_port, influx=influx_port, postgres=postgres_port),
            inventory,
            var_dir,
            fresh=fresh,
            postgres=var_dir.resolve() / "postgres" if postgres else None,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            database_url=database_url,
            profiles_dir=profiles,
        ).run()
    except PlantroomError as exc:
        _fail(exc)


def servers(
    inventory: Annotated[
        Path | None,
        typer.Option("--inventory", "-i", help="give the broker this site's logins and ACLs"),
    ] = None,
    var_dir: VarOpt = Path("var"),
    mqtt_port: MqttPortOpt = 1883,
    influx_port: InfluxPortOpt = 8086,
    postgres: PostgresOpt = False,
    postgres_port: PostgresPortOpt = 5432,
) -> None:
    """Run just the servers (mosquitto, influxd, optionally PostgreSQL) and print how to point
    the processes at them."""
    from plantroom.inventory import load_inventory
    from stack.runner import run_servers
    from stack.servers import ServerPorts, Servers

    try:
        site = load_inventory(inventory) if inventory is not None else None
        var = var_dir.resolve()
        managed = Servers(
            var,
            ServerPorts(mqtt=mqtt_port, influx=influx_port, postgres=postgres_port),
            site,
            postgres=var / "postgres" if postgres else None,
        )
        run_servers(managed, inventory)
    except PlantroomError as exc:
        _fail(exc)
