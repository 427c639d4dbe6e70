"""`plantroom demo`: the whole stack on one machine.

mosquitto and influxd run as managed child processes with their data under `var/`; the
simulated campus, one edge agent per building, the gateway and the cloud service run as child
processes of their own, each with its log in `var/logs/`. Ctrl-C stops everything cleanly.

Reliability runs (`python -m chaos`) drive the same stack: `Demo.kill(name)` crashes one
process with SIGKILL and `Demo.restart(name)` starts it again on the same ports with the same
data, and `env_overrides` gives one child settings of its own (an edge agent pointed at a
proxy in front of the broker, say). With `postgres` (a data directory) the cloud runs on a
PostgreSQL cluster the demo manages, named `postgres` for `kill` and `restart`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from plantroom.errors import ServiceError
from plantroom.inventory import ModbusTcp, load_inventory
from plantroom.ports import ensure_port_free
from stack.mqtt_auth import MqttUser, edge_username, site_usernames, site_users
from stack.pgserver import Postgres
from stack.processes import Child
from stack.services import Influxd, ManagedServer, Mosquitto

HOST = "127.0.0.1"


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8000
    mqtt: int = 1883
    influx: int = 8086
    sim: int = 8090
    postgres: int = 5432


class Demo:
    """Starts, watches and stops the demo stack."""

    def __init__(
        self,
        ports: DemoPorts,
        inventory: Path,
        var_dir: Path,
        fresh: bool = False,
        out: Any = None,
        env_overrides: dict[str, dict[str, str]] | None = None,
        postgres: Path | None = None,
    ) -> None:
        self.ports = ports
        self.inventory_path = inventory.resolve()
        self.inventory = load_inventory(self.inventory_path)
        self.var = var_dir.resolve()
        self.fresh = fresh
        self.out = out if out is not None else sys.stdout
        self.mqtt_users: list[MqttUser] = []
        self.mosquitto = Mosquitto(self.var / "mosquitto", HOST, ports.mqtt)
        self.influxd = Influxd(self.var / "influxdb", HOST, ports.influx)
        self.postgres = Postgres(postgres, HOST, ports.postgres) if postgres else None
        self.children: list[Child] = []
        self.env_overrides = dict(env_overrides or {})
        self._stopping = False

    # -- helpers ---------------------------------------------------------------------------
    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def sim_url(self) -> str:
        return f"http://{HOST}:{self.ports.sim}"

    @property
    def credentials_path(self) -> Path:
        return self.var / "demo" / "credentials.json"

    @property
    def mqtt_credentials_path(self) -> Path:
        return self.var / "demo" / "mqtt.json"

    def _mqtt_passwords(self) -> dict[str, str]:
        """One broker login per process, as in the compose stack; the passwords are made once
        and kept in var/demo/mqtt.json (owner-only) so a restart keeps them."""
        path = self.mqtt_credentials_path
        known: dict[str, str] = {}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
                known = (
                    {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
                )
            except (OSError, ValueError):
                known = {}
        passwords = {
            n: known.get(n) or secrets.token_urlsafe(18) for n in site_usernames(self.inventory)
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(passwords, indent=2) + "\n")
        return passwords

    def _login(self, username: str) -> dict[str, str]:
        user = next(u for u in self.mqtt_users if u.username == username)
        return {"PLANTROOM_MQTT_USERNAME": user.username, "PLANTROOM_MQTT_PASSWORD": user.password}

    def _modbus_endpoints(self) -> set[tuple[str, int]]:
        return {
            (e.connection.host, e.connection.port)
            for _, e in self.inventory.equipment()
            if isinstance(e.connection, ModbusTcp)
        }

    def check_ports(self) -> None:
        ensure_port_free("API", HOST, self.ports.api)
        ensure_port_free("MQTT", HOST, self.ports.mqtt)
        ensure_port_free("InfluxDB", HOST, self.ports.influx)
        ensure_port_free("simulator control", HOST, self.ports.sim)
        for host, port in sorted(self._modbus_endpoints()):
            ensure_port_free("simulated Modbus gateway", host, port)

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}
        env.update(
            PLANTROOM_INVENTORY=str(self.inventory_path),
            PLANTROOM_MQTT_HOST=HOST,
            PLANTROOM_MQTT_PORT=str(self.ports.mqtt),
            PLANTROOM_INFLUX_URL=self.influxd.url,
            PLANTROOM_INFLUX_DATABASE="plantroom",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _plan_children(self) -> list[Child]:
        logs = self.var / "logs"
        children = [
            Child(
                "simulators",
                ["sim"],
                self._env(
                    PLANTROOM_SIM_CONTROL_HOST=HOST,
                    PLANTROOM_SIM_CONTROL_PORT=str(self.ports.sim),
                    **self._login("simulator"),
                ),
                logs / "simulators.log",
            ),
        ]
        for b in self.inventory.buildings:
            agent = edge_username(b.id)
            children.append(
                Child(
                    agent,
                    ["edge", "--building", b.id],
                    self._env(
                        **self._login(agent),
                        PLANTROOM_EDGE_AGENT_ID=agent,
                        PLANTROOM_EDGE_BUFFER_PATH=str(self.var / "edge" / f"{agent}.sqlite"),
                    ),
                    logs / f"{agent}.log",
                )
            )
        children.append(
            Child(
                "gateway",
                ["gateway"],
                self._env(
                    PLANTROOM_GATEWAY_BUFFER_DIR=str(self.var / "gateway"),
                    **self._login("gateway"),
                ),
                logs / "gateway.log",
            )
        )
        children.append(
            Child(
                "cloud",
                ["cloud"],
                self._env(
                    PLANTROOM_API_HOST=HOST,
                    PLANTROOM_API_PORT=str(self.ports.api),
                    PLANTROOM_DATABASE_URL=self.postgres.url
                    if self.postgres
                    else f"sqlite:///{self.var / 'cloud' / 'plantroom.sqlite'}",
                    PLANTROOM_DEMO_MODE="true",
                    PLANTROOM_CLOUD_CLIENT_ID="plantroom-cloud-demo",
                    PLANTROOM_DEMO_CREDENTIALS_PATH=str(self.credentials_path),
                    **self._login("cloud"),
                ),
                logs / "cloud.log",
            )
        )
        for child in children:
            child.env.update(self.env_overrides.get(child.name, {}))
        return children

    @property
    def process_names(self) -> list[str]:
        """What `kill` and `restart` accept: the two servers and every child by name."""
        servers = ["mosquitto", "influxd", *(["postgres"] if self.postgres else [])]
        return [*servers, *(c.name for c in self.children)]

    def child(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise ServiceError(
            f"no demo process named {name!r}; known: {', '.join(self.process_names)}"
        )

    def _server(self, name: str) -> ManagedServer | None:
        servers: dict[str, ManagedServer] = {"mosquitto": self.mosquitto, "influxd": self.influxd}
        if self.postgres is not None:
            servers["postgres"] = self.postgres
        return servers.get(name)

    def kill(self, name: str) -> None:
        """Crash one process of the running stack with SIGKILL."""
        server = self._server(name)
        if server is not None:
            server.kill()
        else:
            self.child(name).kill()

    def restart(self, name: str) -> None:
        """Start a killed or stopped process again, on the same ports and with the same data."""
        server = self._server(name)
        if server is not None:
            server.start()
        else:
            child = self.child(name)
            if child.alive():
                raise ServiceError(
                    f"{name} is still running (pid {child.proc.pid if child.proc else '?'})"
                )
            child.restarts += 1
            child.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.check_ports()
        if self.fresh and self.var.exists():
            shutil.rmtree(self.var)
        self.var.mkdir(parents=True, exist_ok=True)
        self.mqtt_users = site_users(self.inventory, self._mqtt_passwords())
        self.mosquitto.users = self.mqtt_users
        self.say(
            f"Plantroom demo: site {self.inventory.site.id!r}, "
            f"{len(self.inventory.buildings)} buildings, "
            f"{sum(1 for _ in self.inventory.equipment())} pieces of equipment"
        )
        self.mosquitto.start()
        self.say(
            f"  mosquitto      mqtt://{HOST}:{self.ports.mqtt}   logins only, one per process "
            f"(log {self.mosquitto.log_path})"
        )
        self.influxd.start()
        self.say(
            f"  influxd        {self.influxd.url}   database 'plantroom' "
            f"(log {self.influxd.log_path})"
        )
        if self.postgres:
            self.postgres.start()
            self.say(f"  postgres       {self.postgres.url}   (log {self.postgres.log_path})")
        self.children = self._plan_children()
        for child in self.children:
            child.start()
            self.say(
                f"  {child.name:<14} pid {child.proc.pid if child.proc else '?'}   "
                f"(log {child.log_path})"
            )

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the API answers /api/health; return the demo credentials."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children()
            try:
                with urllib.request.urlopen(f"{self.api_url}/api/health", timeout=2) as resp:
                    if resp.status == 200 and self.credentials_path.exists():
                        creds: dict[str, Any] = json.loads(self.credentials_path.read_text())
                        return creds
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)
        raise ServiceError(
            f"the cloud API did not answer {self.api_url}/api/health within "
            f"{timeout:.0f}s; see {self.var / 'logs' / 'cloud.log'}"
        )

    def check_children(self) -> None:
        for child in self.children:
            if child.proc is not None and not child.alive():
                code = child.proc.returncode
                raise ServiceError(
                    f"{child.name} exited (code {code}); last lines of {child.log_path}:\n"
                    f"{child.tail()}"
                )

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        for child in reversed(self.children):
            child.stop()
        if self.postgres:
            self.postgres.stop()
        self.influxd.stop()
        self.mosquitto.stop()

    def banner(self, creds: dict[str, Any]) -> None:
        self.say("")
        self.say(f"Console and API:  {self.api_url}/   (OpenAPI: {self.api_url}/docs)")
        self.say(f"Simulator control: {self.sim_url}")
        for user in creds.get("users", []):
            self.say(f"  {user['role']:<11} {user['username']:<8} token {user['token']}")
        self.say(f"  (tokens also in {self.credentials_path})")
        admin = next((u for u in self.mqtt_users if u.role == "admin"), None)
        if admin is not None:
            self.say(
                f"MQTT broker:      mqtt://{HOST}:{self.ports.mqtt}   user {admin.username} "
                f"password {admin.password}"
            )
            self.say(f"  (every process's login in {self.mqtt_credentials_path})")
        pump = next((e.id for _, e in self.inventory.equipment() if e.kind == "pump"), "pump-a1")
        token = next((u["token"] for u in creds.get("users", []) if u["role"] == "technician"), "")
        self.say("")
        self.say("Try:")
        self.say(
            f"  .venv/bin/plantroom sim inject --equipment {pump} --fault dry_run "
            f"--url {self.sim_url}"
        )
        self.say(
            f"  curl -H 'Authorization: Bearer {token}' "
            f"'{self.api_url}/api/work-orders?status=open'"
        )
        if admin is not None:
            self.say(
                f"  mosquitto_sub -h {HOST} -p {self.ports.mqtt} -u {admin.username} "
                f"-P {admin.password} -v -t 'plantroom/v1/+/+/pump/+/telemetry'"
            )
        self.say(
            f"  curl -G {self.influxd.url}/query --data-urlencode db=plantroom "
            f"--data-urlencode 'q=SELECT * FROM pump ORDER BY time DESC LIMIT 3'"
        )
        light = next((e.id for _, e in self.inventory.equipment() if e.kind == "lighting"), "")
        self.say(f"  report a problem, no sign-in: {self.api_url}/report/{light}")
        self.say("")
        self.say("Ctrl-C stops everything.")

    def run(self) -> None:
        """Start, wait, watch until Ctrl-C or a child dies, then stop everything."""

        def _signal(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)  # also when started with SIGINT ignored
        try:
            self.start()
            self.banner(self.wait_ready())
            while True:
                self.check_children()
                if not self.mosquitto.running() or not self.influxd.running():
                    raise ServiceError(
                        f"mosquitto or influxd stopped; see their logs under {self.var}"
                    )
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.say("\nStopping Plantroom demo …")
        finally:
            self.stop()
            self.say("Stopped.")
