"""`plantroom demo`: the whole stack on one machine, in front of a simulated campus.

The demo is `plantroom run` (stack.runner.Stack: mosquitto and influxd as managed child
processes with their data under `var/`, an edge agent per building, the gateway and the cloud,
each with its log in `var/logs/`) plus the simulators, which play every device of the
inventory, and the cloud in demo mode. Ctrl-C stops everything cleanly.

Reliability runs (`python -m chaos`) drive the same stack: `Demo.kill(name)` crashes one
process with SIGKILL and `Demo.restart(name)` starts it again on the same ports with the same
data, and `env_overrides` gives one child settings of its own (an edge agent pointed at a
proxy in front of the broker, say). With `postgres` (a data directory) the cloud runs on a
PostgreSQL cluster the demo manages, named `postgres` for `kill` and `restart`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from plantroom.errors import ServiceError
from plantroom.inventory import ModbusTcp
from plantroom.ports import ensure_port_free
from stack.mailbox import Mailbox
from stack.processes import Child
from stack.runner import Stack, StackPorts
from stack.servers import HOST
from stack.services import Influxd


def _call(url: str, headers: dict[str, str], data: bytes | None = None) -> Any:
    """One API call of the demo's own; ServiceError with the API's message."""
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ServiceError(f"{url}: {exc.read().decode('utf-8', 'replace')[:2000]}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"{url}: {exc}") from exc


@dataclass(frozen=True)
class DemoPorts(StackPorts):
    sim: int = 8090
    smtp: int = 8025


class Demo(Stack):
    """Starts, watches and stops the demo stack."""

    name = "Plantroom demo"
    logins_dir = "demo"

    @property
    def demo_ports(self) -> DemoPorts:
        assert isinstance(self.ports, DemoPorts)
        return self.ports

    @property
    def influxd(self) -> Influxd:
        influxd = self.servers.influxd
        assert influxd is not None  # the demo always runs its own
        return influxd

    @cached_property
    def mailbox(self) -> Mailbox:
        """The demo's mail server: every message the cloud sends kept as an .eml file."""
        return Mailbox(self.var / "demo" / "mail", HOST, self.demo_ports.smtp)

    def start_extra_servers(self) -> None:
        self.mailbox.start()
        self.say(
            f"  smtp           smtp://{HOST}:{self.demo_ports.smtp}   "
            f"mail kept in {self.mailbox.folder}"
        )

    def stop_extra_servers(self) -> None:
        self.mailbox.stop()

    @property
    def sim_url(self) -> str:
        return f"http://{HOST}:{self.demo_ports.sim}"

    @property
    def credentials_path(self) -> Path:
        return self.var / "demo" / "credentials.json"

    @property
    def mqtt_credentials_path(self) -> Path:
        return self.servers.credentials_path

    def inherited_env(self) -> dict[str, str]:
        """The demo is self-contained: no `PLANTROOM_*` setting of this shell reaches it."""
        return {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}

    def _modbus_endpoints(self) -> set[tuple[str, int]]:
        return {
            (e.connection.host, e.connection.port)
            for _, e in self.inventory.equipment()
            if isinstance(e.connection, ModbusTcp)
        }

    def check_ports(self) -> None:
        super().check_ports()
        ensure_port_free("simulator control", HOST, self.demo_ports.sim)
        ensure_port_free("SMTP", HOST, self.demo_ports.smtp)
        for host, port in sorted(self._modbus_endpoints()):
            ensure_port_free("simulated Modbus gateway", host, port)

    def extra_children(self) -> list[Child]:
        env = self._env(
            PLANTROOM_SIM_CONTROL_HOST=HOST,
            PLANTROOM_SIM_CONTROL_PORT=str(self.demo_ports.sim),
            **self.servers.login("simulator"),
        )
        return [Child("simulators", ["sim"], env, self.var / "logs" / "simulators.log")]

    def cloud_env(self) -> dict[str, str]:
        return {
            "PLANTROOM_DEMO_MODE": "true",
            "PLANTROOM_CLOUD_CLIENT_ID": "plantroom-cloud-demo",
            "PLANTROOM_DEMO_CREDENTIALS_PATH": str(self.credentials_path),
            "PLANTROOM_NOTIFICATIONS_FILE": str(self._write_mail_channel()),
        }

    def _write_mail_channel(self) -> Path:
        """The cloud's channels file: e-mail to the demo's SMTP server (plain, no login)."""
        path = self.var / "demo" / "notifications.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = (
            f"mailto://{HOST}:{self.demo_ports.smtp}?from=plantroom@demo.example.com&to={{address}}"
        )
        path.write_text(f'channels:\n  email:\n    url: "{url}"\n    style: email\n')
        return path

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the API answers /api/health; return the demo credentials."""
        self.wait_api(timeout, also=self.credentials_path.exists)
        creds: dict[str, Any] = json.loads(self.credentials_path.read_text())
        self.seed_assets(creds)
        return creds

    def seed_assets(self, creds: dict[str, Any]) -> None:
        """Import the asset register next to the inventory (`<site>-assets.csv`) through the
        API, once: while the register holds no register-only asset yet."""
        path = self.inventory_path.with_name(f"{self.inventory_path.stem}-assets.csv")
        admin = next((u["token"] for u in creds.get("users", []) if u["role"] == "admin"), None)
        if not path.is_file() or admin is None:
            return
        headers = {"Authorization": f"Bearer {admin}"}
        if _call(f"{self.api_url}/api/assets?connected=false", headers)["total"]:
            return
        query = urllib.parse.urlencode({"filename": path.name})
        result = _call(
            f"{self.api_url}/api/assets/import?{query}",
            {**headers, "Content-Type": "text/csv"},
            data=path.read_bytes(),
        )
        self.say(f"Asset register: {len(result['created'])} assets from {path.name}")

    def ready(self) -> None:
        self.banner(self.wait_ready())

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
