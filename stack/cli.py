"""The `plantroom` command line: one entry point for every process."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cloud.assets.cli import assets_app
from cloud.cli import report_command, wo_app
from cloud.oncall.cli import oncall_app
from dashboards.cli import app as dashboards_app
from plantroom.errors import PlantroomError
from simulators.cli import register as register_sim_commands
from stack.labels_cli import labels as labels_command
from stack.site_cli import run as site_run
from stack.site_cli import servers as site_servers

if TYPE_CHECKING:
    from simulators.control import ControlClient

app = typer.Typer(
    help="Plantroom: building equipment → telemetry → InfluxDB, faults and due maintenance → "
    "work orders.",
    no_args_is_help=True,
    add_completion=False,
)
sim_app = typer.Typer(help="Equipment simulators and their fault injection.")
app.add_typer(sim_app, name="sim")
cloud_app = typer.Typer(help="The cloud service and its administration.")
user_app = typer.Typer(help="Users of the API and console.")
cloud_app.add_typer(user_app, name="user")
app.add_typer(cloud_app, name="cloud")
register_sim_commands(sim_app)
app.add_typer(wo_app, name="wo", help="Work orders from the command line (over the API).")
app.command("report")(report_command)
app.add_typer(dashboards_app, name="dashboards", help="Grafana dashboards as code.")
app.command("run")(site_run)
app.command("servers")(site_servers)
app.add_typer(oncall_app, name="oncall", help="On-call rotas: who is on call (over the API).")
app.command("labels")(labels_command)
app.add_typer(assets_app, name="assets", help="The asset register: CSV import and export.")

MqttHostOpt = Annotated[str | None, typer.Option(help="[PLANTROOM_MQTT_HOST]")]
MqttPortOpt = Annotated[int | None, typer.Option(help="[PLANTROOM_MQTT_PORT]")]
InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="site inventory YAML [env PLANTROOM_INVENTORY]"),
]
LogLevel = Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR")]


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _fail(exc: PlantroomError) -> None:
    typer.echo(f"plantroom: {exc}", err=True)
    raise typer.Exit(2)


def _run_process(log_level: str, module: str, settings_class: str, **overrides: Any) -> None:
    """Run one process: `module`'s `run` with the `plantroom.settings` class named
    `settings_class`, loaded from the environment and the given options (imported only here,
    so that `--help` and the other commands stay quick)."""
    _logging(log_level)
    try:
        process = importlib.import_module(module)
        settings_module = importlib.import_module("plantroom.settings")
        settings = settings_module.load_settings(
            getattr(settings_module, settings_class), **overrides
        )
        process.run(settings)
    except PlantroomError as exc:
        _fail(exc)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the telemetry payload."""
    from plantroom.schema import json_schema_text

    typer.echo(json_schema_text())


@app.command()
def edge(
    inventory: InventoryOpt = None,
    agent_id: Annotated[str | None, typer.Option(help="agent id [PLANTROOM_EDGE_AGENT_ID]")] = None,
    building: Annotated[
        list[str] | None, typer.Option("--building", "-b", help="serve only these buildings")
    ] = None,
    mqtt_host: MqttHostOpt = None,
    mqtt_port: MqttPortOpt = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run an edge agent: poll equipment, publish telemetry."""
    _run_process(
        log_level,
        "edge.agent",
        "EdgeSettings",
        inventory=inventory,
        edge_agent_id=agent_id,
        edge_buildings=building or None,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
    )


@app.command()
def gateway(
    inventory: InventoryOpt = None,
    mqtt_host: MqttHostOpt = None,
    mqtt_port: MqttPortOpt = None,
    influx_url: Annotated[str | None, typer.Option(help="[PLANTROOM_INFLUX_URL]")] = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run the ingest gateway: MQTT telemetry → InfluxDB."""
    _run_process(
        log_level,
        "gateway.service",
        "GatewaySettings",
        inventory=inventory,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        influx_url=influx_url,
    )


@cloud_app.callback(invoke_without_command=True)
def cloud(
    ctx: typer.Context,
    inventory: InventoryOpt = None,
    host: Annotated[str | None, typer.Option(help="API address [PLANTROOM_API_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="API port [PLANTROOM_API_PORT]")] = None,
    database_url: Annotated[str | None, typer.Option(help="[PLANTROOM_DATABASE_URL]")] = None,
    rules_dir: Annotated[
        Path | None, typer.Option(help="extra rule folder [PLANTROOM_RULES_DIR]")
    ] = None,
    mqtt_host: MqttHostOpt = None,
    mqtt_port: MqttPortOpt = None,
    demo_mode: Annotated[
        bool | None, typer.Option("--demo-mode/--no-demo-mode", help="create demo users")
    ] = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run the cloud service: rules, alarms, work orders, API (no sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    _run_process(
        log_level,
        "cloud.main",
        "CloudSettings",
        inventory=inventory,
        api_host=host,
        api_port=port,
        database_url=database_url,
        rules_dir=rules_dir,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        demo_mode=demo_mode,
    )


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[
        str, typer.Option(help="technician, supervisor, engineer, admin, dispatcher or contractor")
    ],
    display_name: Annotated[str | None, typer.Option(help="name shown to people")] = None,
    database_url: Annotated[str | None, typer.Option(help="[PLANTROOM_DATABASE_URL]")] = None,
    site: Annotated[
        list[str] | None,
        typer.Option(help="SITE or SITE:ROLE, repeatable: the only sites they see (none: all)"),
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option(help="the inventory file or folder [PLANTROOM_INVENTORY]")
    ] = None,
) -> None:
    """Create a user and print an API token for it (the token is shown once)."""
    try:
        from cloud.users.service import create_user
        from plantroom.settings import CloudSettings, load_settings

        settings = load_settings(CloudSettings, database_url=database_url, inventory=inventory)
        token = create_user(settings, username, role, display_name=display_name, sites=site or ())
    except PlantroomError as exc:
        _fail(exc)
        return
    except ValueError as exc:
        typer.echo(f"plantroom: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(token)


ControlUrl = Annotated[
    str, typer.Option("--url", help="simulator control endpoint", envvar="PLANTROOM_SIM_URL")
]


@sim_app.callback(invoke_without_command=True)
def sim(
    ctx: typer.Context,
    inventory: InventoryOpt = None,
    control_port: Annotated[int | None, typer.Option(help="[PLANTROOM_SIM_CONTROL_PORT]")] = None,
    mqtt_host: MqttHostOpt = None,
    mqtt_port: MqttPortOpt = None,
    seed: Annotated[int | None, typer.Option(help="[PLANTROOM_SIM_SEED]")] = None,
    speed: Annotated[float | None, typer.Option(help="simulated seconds per second")] = None,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="scenario file to start [PLANTROOM_SIM_SCENARIO]"),
    ] = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Serve simulated equipment for every device in the inventory (no sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    _run_process(
        log_level,
        "simulators.runner",
        "SimSettings",
        inventory=inventory,
        sim_control_port=control_port,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        sim_seed=seed,
        sim_scenario=scenario,
        sim_speed=speed,
    )


def _control(url: str, call: Callable[[ControlClient], Any]) -> None:
    """Ask the simulators' control endpoint at `url` and print the JSON answer."""
    from simulators.control import ControlClient

    try:
        typer.echo(json.dumps(call(ControlClient(url)), indent=2, sort_keys=True))
    except PlantroomError as exc:
        _fail(exc)


@sim_app.command("inject")
def sim_inject(
    equipment: Annotated[str, typer.Option("--equipment", "-e", help="equipment id")],
    fault: Annotated[str, typer.Option("--fault", "-f", help="fault name (see `sim faults`)")],
    url: ControlUrl = "http://127.0.0.1:8090",
) -> None:
    """Inject a fault into one simulated device."""
    _control(url, lambda client: client.inject(equipment, fault))


@sim_app.command("clear")
def sim_clear(
    equipment: Annotated[str, typer.Option("--equipment", "-e", help="equipment id")],
    fault: Annotated[str | None, typer.Option("--fault", "-f", help="only this fault")] = None,
    url: ControlUrl = "http://127.0.0.1:8090",
) -> None:
    """Clear the faults (or one fault) of one simulated device."""
    _control(url, lambda client: client.clear(equipment, fault))


@sim_app.command("faults")
def sim_faults(url: ControlUrl = "http://127.0.0.1:8090") -> None:
    """List the faults each kind supports and which are active."""
    _control(url, lambda client: client.faults())


@app.command()
def demo(
    api_port: Annotated[int, typer.Option(envvar="PLANTROOM_API_PORT")] = 8000,
    mqtt_port: Annotated[int, typer.Option(envvar="PLANTROOM_MQTT_PORT")] = 1883,
    influx_port: Annotated[int, typer.Option(envvar="PLANTROOM_INFLUX_PORT")] = 8086,
    sim_port: Annotated[int, typer.Option(envvar="PLANTROOM_SIM_CONTROL_PORT")] = 8090,
    inventory: Annotated[Path, typer.Option("--inventory", "-i")] = Path("sites/demo.yaml"),
    var_dir: Annotated[Path, typer.Option("--var", help="where data and logs go")] = Path("var"),
    fresh: Annotated[bool, typer.Option(help="start from empty databases")] = False,
    postgres: Annotated[
        bool, typer.Option(help="run the cloud on a PostgreSQL cluster in var/postgres")
    ] = False,
    postgres_port: Annotated[int, typer.Option(envvar="PLANTROOM_POSTGRES_PORT")] = 5432,
    smtp_port: Annotated[int, typer.Option(envvar="PLANTROOM_DEMO_SMTP_PORT")] = 8025,
) -> None:
    """Run the whole stack on this machine: servers, simulated campus, edge, gateway, cloud."""
    from stack.demo import Demo, DemoPorts

    try:
        Demo(
            DemoPorts(
                api=api_port,
                mqtt=mqtt_port,
                influx=influx_port,
                sim=sim_port,
                postgres=postgres_port,
                smtp=smtp_port,
            ),
            inventory=inventory,
            var_dir=var_dir,
            fresh=fresh,
            postgres=var_dir.resolve() / "postgres" if postgres else None,
        ).run()
    except PlantroomError as exc:
        _fail(exc)


# -- plantroom check: the site check -------------------------------------------------------


@app.command("check")
def check(
    inventory: Annotated[
        Path,
        typer.Option("--inventory", "-i", envvar="PLANTROOM_INVENTORY", help="site inventory"),
    ],
    profiles_dir: Annotated[
        Path | None,
        typer.Option(
            "--profiles",
            "--profiles-dir",
            envvar=["PLANTROOM_PROFILES_DIR", "PLANTROOM_EDGE_PROFILES_DIR"],
            help="the site's own profile folder",
        ),
    ] = None,
    rules_dir: Annotated[
        Path | None, typer.Option(envvar="PLANTROOM_RULES_DIR", help="the site's rule folder")
    ] = None,
    pm_dir: Annotated[
        Path | None, typer.Option(envvar="PLANTROOM_PM_DIR", help="the site's PM plan folder")
    ] = None,
    probe: Annotated[bool, typer.Option("--probe", help="read every device once")] = False,
    timeout: Annotated[float, typer.Option(min=0.05, max=30, help="per probe request, s")] = 1.0,
    deadline: Annotated[float, typer.Option(min=1, max=3600, help="whole probe, s")] = 60.0,
    mqtt_wait: Annotated[
        float, typer.Option(min=0.1, max=600, help="wait for an MQTT device's message, s")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 on warnings only")] = False,
) -> None:
    """Check a site: inventory, profiles, rules, PM plans, dashboards; --probe reads devices.
    Exit status 2: errors; 0 otherwise (with --strict, 1 on warnings only)."""
    from stack.check import ProbeOptions, run_check

    try:
        options = None
        if probe:
            from plantroom.settings import MqttSettings, load_settings

            mqtt = load_settings(MqttSettings)
            options = ProbeOptions(timeout, deadline, mqtt, mqtt_wait)
        report = run_check(
            inventory,
            profiles_dir=profiles_dir,
            rules_dir=rules_dir,
            pm_dir=pm_dir,
            probe=options,
        )
    except PlantroomError as exc:
        _fail(exc)
        return
    typer.echo(report.json() if as_json else report.text())
    raise typer.Exit(report.exit_status(strict=strict))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
