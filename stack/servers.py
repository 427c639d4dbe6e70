"""The servers a site's processes need: the MQTT broker, InfluxDB and (optionally) PostgreSQL.

Each one is either managed here — a child process on a chosen port with its data under the
`var` directory (stack.services, stack.pgserver) — or an external one given by URL, which is
only handed on to the processes. A managed broker takes logins only, one per process of the
site, with the role ACLs of stack.mqtt_auth; the passwords are made once and kept, owner-only,
in `<var>/stack/mqtt.json` (the demo's in `var/demo/mqtt.json`), so a restart keeps them.

`env_for(name)` is the environment that points one process at the servers; `write_env_files`
puts it into `<var>/env/<process>.env` for processes started by hand (`plantroom servers`).
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantroom.errors import ConfigError, ServiceError
from plantroom.inventory import Inventory
from plantroom.ports import ensure_port_free
from stack.mqtt_auth import MqttUser, site_usernames, site_users
from stack.pgserver import Postgres
from stack.services import Influxd, ManagedServer, Mosquitto

HOST = "127.0.0.1"
MQTT_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


@dataclass(frozen=True)
class MqttEndpoint:
    """A broker by URL: `mqtt://host:port` (1883 by default) or `mqtts://host:port` (TLS,
    8883 by default)."""

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in MQTT_SCHEMES or not parts.hostname:
            raise ConfigError(f"--mqtt-url {url!r}: expected mqtt://host:port or mqtts://host:port")
        if parts.username or parts.password:
            raise ConfigError(
                f"--mqtt-url {url!r}: no login in the URL; give it as PLANTROOM_MQTT_USERNAME "
                "and PLANTROOM_MQTT_PASSWORD (or a secret file)"
            )
        tls = MQTT_SCHEMES[parts.scheme]
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigError(f"--mqtt-url {url!r}: {exc}") from exc
        return cls(parts.hostname, port, tls)


def influx_endpoint(url: str) -> str:
    """An external InfluxDB's base URL, checked: http(s) with a host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--influx-url {url!r}: expected http://host:port or https://host:port")
    return url.rstrip("/")


@dataclass(frozen=True)
class ServerPorts:
    mqtt: int = 1883
    influx: int = 8086
    postgres: int = 5432


class Servers:
    """The broker, InfluxDB and, with `postgres` (its data directory), a PostgreSQL cluster;
    `mqtt_url` / `influx_url` name external ones instead of managing them."""

    def __init__(
        self,
        var_dir: Path,
        ports: ServerPorts,
        inventory: Inventory | None,
        *,
        mqtt_url: str | None = None,
        influx_url: str | None = None,
        postgres: Path | None = None,
        credentials_path: Path | None = None,
    ) -> None:
        self.var = var_dir
        self.credentials_path = credentials_path or var_dir / "stack" / "mqtt.json"
        self.inventory = inventory
        self.external_mqtt = MqttEndpoint.parse(mqtt_url) if mqtt_url else None
        self.external_influx = influx_endpoint(influx_url) if influx_url else None
        self.mosquitto = (
            None if self.external_mqtt else Mosquitto(var_dir / "mosquitto", HOST, ports.mqtt)
        )
        self.influxd = (
            None if self.external_influx else Influxd(var_dir / "influxdb", HOST, ports.influx)
        )
        self.postgres = Postgres(postgres, HOST, ports.postgres) if postgres else None
        self.mqtt_users: list[MqttUser] = []

    # -- where the processes find them -----------------------------------------------------
    @property
    def mqtt(self) -> MqttEndpoint:
        if self.external_mqtt is not None:
            return self.external_mqtt
        assert self.mosquitto is not None
        return MqttEndpoint(self.mosquitto.host, self.mosquitto.port, tls=False)

    @property
    def influx_url(self) -> str:
        if self.external_influx is not None:
            return self.external_influx
        assert self.influxd is not None
        return self.influxd.url

    def managed(self) -> dict[str, ManagedServer]:
        """The servers run here, by name (what `kill` and `restart` accept)."""
        found: dict[str, ManagedServer] = {}
        if self.mosquitto is not None:
            found["mosquitto"] = self.mosquitto
        if self.influxd is not None:
            found["influxd"] = self.influxd
        if self.postgres is not None:
            found["postgres"] = self.postgres
        return found

    def check_ports(self) -> None:
        for server in self.managed().values():
            ensure_port_free(server.name, server.host, server.port)

    def login(self, username: str) -> dict[str, str]:
        """The broker login of one process; none (the environment's) on an external broker."""
        user = next((u for u in self.mqtt_users if u.username == username), None)
        if user is None:
            return {}
        return {"PLANTROOM_MQTT_USERNAME": user.username, "PLANTROOM_MQTT_PASSWORD": user.password}

    def env(self) -> dict[str, str]:
        """What every process needs to find the broker and InfluxDB."""
        mqtt = self.mqtt
        env = {
            "PLANTROOM_MQTT_HOST": mqtt.host,
            "PLANTROOM_MQTT_PORT": str(mqtt.port),
            "PLANTROOM_INFLUX_URL": self.influx_url,
        }
        if mqtt.tls:
            env["PLANTROOM_MQTT_TLS"] = "true"
        if self.postgres is not None:
            env["PLANTROOM_DATABASE_URL"] = self.postgres.url
        return env

    # -- lifecycle ---------------------------------------------------------------------------
    def _mqtt_passwords(self, inventory: Inventory) -> dict[str, str]:
        path = self.credentials_path
        known: dict[str, Any] = {}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
                known = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                known = {}
        passwords = {
            name: str(known.get(name) or secrets.token_urlsafe(18))
            for name in site_usernames(inventory)
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(passwords, indent=2) + "\n")
        return passwords

    def start(self) -> None:
        """Start the managed servers (a managed broker with the site's logins when there is an
        inventory, else open to anonymous clients on loopback)."""
        self.var.mkdir(parents=True, exist_ok=True)
        if self.mosquitto is not None and self.inventory is not None:
            self.mqtt_users = site_users(self.inventory, self._mqtt_passwords(self.inventory))
            self.mosquitto.users = self.mqtt_users
        started: list[ManagedServer] = []
        try:
            for server in self.managed().values():
                server.start()
                started.append(server)
        except ServiceError:
            for server in reversed(started):
                server.stop()
            raise

    def stop(self) -> None:
        for server in reversed(list(self.managed().values())):
            server.stop()

    def check(self) -> None:
        """Raise if a managed server has stopped."""
        for server in self.managed().values():
            if not server.running():
                raise ServiceError(
                    f"{server.name} stopped; last lines of {server.log_path}:\n{server.log_tail()}"
                )

    def describe(self) -> list[str]:
        """One line per server: where it is and its log."""
        lines = []
        mqtt = self.mqtt
        scheme = "mqtts" if mqtt.tls else "mqtt"
        if self.mosquitto is not None:
            logins = "logins only, one per process" if self.mqtt_users else "anonymous, loopback"
            lines.append(
                f"  mosquitto      {scheme}://{mqtt.host}:{mqtt.port}   {logins} "
                f"(log {self.mosquitto.log_path})"
            )
        else:
            lines.append(f"  MQTT broker    {scheme}://{mqtt.host}:{mqtt.port}   (external)")
        if self.influxd is not None:
            lines.append(
                f"  influxd        {self.influx_url}   database 'plantroom' "
                f"(log {self.influxd.log_path})"
            )
        else:
            lines.append(f"  InfluxDB       {self.influx_url}   (external)")
        if self.postgres is not None:
            lines.append(f"  postgres       {self.postgres.url}   (log {self.postgres.log_path})")
        return lines

    def write_env_files(self, extra: dict[str, dict[str, str]]) -> dict[str, Path]:
        """`<var>/env/<process>.env` for each process of `extra` (its own variables on top of
        `env()` and its broker login), owner-only since they hold passwords."""
        folder = self.var / "env"
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, own in extra.items():
            values = {**self.env(), **self.login(name), **own}
            path = folder / f"{name}.env"
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
            written[name] = path
        return written
