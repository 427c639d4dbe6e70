"""`plantroom run` and `plantroom servers`: a site on this machine, for real equipment.

`Stack` runs the servers (stack.servers: a managed or an external broker and InfluxDB, SQLite
or a managed PostgreSQL for the cloud), an edge agent per building of the inventory, the
gateway and the cloud, each a child process with its log in `<var>/logs/`, until Ctrl-C,
SIGTERM or its terminal closing (SIGHUP), which stop everything cleanly (processes first,
then the servers); should the runner itself be killed outright, each server and process gets
SIGTERM from the kernel (`stack.processes.ended_with_us`). The demo is the
same stack with the simulators in front of it (stack.demo). `run_servers` runs just the
servers and writes, per process, the environment that points it at them.

The processes get the `PLANTROOM_*` variables of the environment `plantroom run` was started
in (so every setting of docs/settings.md applies), with the runner's own on top: where the
servers are, each process's broker login, its data under `<var>`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from plantroom.errors import ServiceError
from plantroom.inventory import Inventory, load_inventory
from plantroom.ports import ensure_port_free
from stack.mqtt_auth import MqttUser, edge_username
from stack.pgserver import Postgres
from stack.processes import Child
from stack.servers import HOST, ServerPorts, Servers
from stack.services import Mosquitto

LOOK_EVERY_S = 0.5


READERS = ("cloud", "gateway")
"""The processes that read what the agents publish: started, and waited for, first."""


@dataclass(frozen=True)
class StackPorts(ServerPorts):
    api: int = 8000


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM, SIGINT (also when started with SIGINT ignored) and SIGHUP (its terminal closed;
    not when started with it ignored, as `nohup` does) end the block with KeyboardInterrupt;
    the previous handlers come back after it."""

    def _signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    stops = [signal.SIGTERM, signal.SIGINT]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        stops.append(signal.SIGHUP)
    previous = {s: signal.signal(s, _signal) for s in stops}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Stack:
    """Starts, watches and stops a site's processes and the servers they need."""

    name = "Plantroom"
    logins_dir = "stack"  # under --var: the broker logins, mqtt.json

    def __init__(
        self,
        ports: StackPorts,
        inventory: Path,
        var_dir: Path,
        *,
        fresh: bool = False,
        out: Any = None,
        env_overrides: dict[str, dict[str, str]] | None = None,
        postgres: Path | None = None,
        mqtt_url: str | None = None,
        influx_url: str | None = None,
        database_url: str | None = None,
        profiles_dir: Path | None = None,
    ) -> None:
        self.ports = ports
        self.inventory_path = inventory.resolve()
        self.inventory: Inventory = load_inventory(self.inventory_path)
        self.var = var_dir.resolve()
        self.fresh = fresh
        self.out = out if out is not None else sys.stdout
        self.servers = Servers(
            self.var,
            ports,
            self.inventory,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            postgres=postgres,
            credentials_path=self.var / self.logins_dir / "mqtt.json",
        )
        self.database_url = database_url
        self.profiles_dir = profiles_dir.resolve() if profiles_dir else None
        self.children: list[Child] = []
        self.env_overrides = dict(env_overrides or {})
        self._stopping = False

    # -- what the processes get ---------------------------------------------------------------
    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def mosquitto(self) -> Mosquitto | None:
        return self.servers.mosquitto

    @property
    def postgres(self) -> Postgres | None:
        return self.servers.postgres

    @property
    def mqtt_users(self) -> list[MqttUser]:
        return self.servers.mqtt_users

    def inherited_env(self) -> dict[str, str]:
        """The environment the processes start from: this one, `PLANTROOM_*` included."""
        return dict(os.environ)

    def _env(self, **extra: str) -> dict[str, str]:
        env = self.inherited_env()
        env.setdefault("PLANTROOM_INFLUX_DATABASE", "plantroom")
        env.update(PLANTROOM_INVENTORY=str(self.inventory_path), PYTHONUNBUFFERED="1")
        env.update(self.servers.env())
        if self.profiles_dir is not None:
            env["PLANTROOM_EDGE_PROFILES_DIR"] = str(self.profiles_dir)
            env["PLANTROOM_PROFILES_DIR"] = str(self.profiles_dir)
        env.update(extra)
        return env

    def _database_url(self, env: dict[str, str]) -> str:
        if self.postgres is not None:
            return self.postgres.url
        if self.database_url:
            return self.database_url
        return env.get("PLANTROOM_DATABASE_URL") or (
            f"sqlite:///{self.var / 'cloud' / 'plantroom.sqlite'}"
        )

    def cloud_env(self) -> dict[str, str]:
        """The cloud's own variables besides the API address and the database."""
        return {"PLANTROOM_CLOUD_CLIENT_ID": f"plantroom-cloud-{self.inventory.site.id}"}

    def extra_children(self) -> list[Child]:
        """Processes that start before the edge agents (the demo's simulators)."""
        return []

    def _plan_children(self) -> list[Child]:
        logs = self.var / "logs"
        children = self.extra_children()
        for b in self.inventory.buildings:
            agent = edge_username(b.id)
            env = self._env(
                **self.servers.login(agent),
                PLANTROOM_EDGE_AGENT_ID=agent,
                PLANTROOM_EDGE_BUFFER_PATH=str(self.var / "edge" / f"{agent}.sqlite"),
            )
            children.append(Child(agent, ["edge", "--building", b.id], env, logs / f"{agent}.log"))
        gateway = self._env(
            PLANTROOM_GATEWAY_BUFFER_DIR=str(self.var / "gateway"), **self.servers.login("gateway")
        )
        children.append(Child("gateway", ["gateway"], gateway, logs / "gateway.log"))
        cloud = self._env(
            PLANTROOM_API_HOST=HOST,
            PLANTROOM_API_PORT=str(self.ports.api),
            **self.cloud_env(),
            **self.servers.login("cloud"),
        )
        cloud["PLANTROOM_DATABASE_URL"] = self._database_url(cloud)
        children.append(Child("cloud", ["cloud"], cloud, logs / "cloud.log"))
        for child in children:
            child.env.update(self.env_overrides.get(child.name, {}))
        return children

    # -- one process ----------------------------------------------------------------------------
    @property
    def process_names(self) -> list[str]:
        """What `kill` and `restart` accept: the managed servers and every child by name."""
        return [*self.servers.managed(), *(c.name for c in self.children)]

    def child(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise ServiceError(f"no process named {name!r}; known: {', '.join(self.process_names)}")

    def kill(self, name: str) -> None:
        """Crash one process of the running stack with SIGKILL."""
        server = self.servers.managed().get(name)
        if server is not None:
            server.kill()
        else:
            self.child(name).kill()

    def restart(self, name: str) -> None:
        """Start a killed or stopped process again, on the same ports and with the same data."""
        server = self.servers.managed().get(name)
        if server is not None:
            server.start()
            return
        child = self.child(name)
        if child.alive():
            raise ServiceError(
                f"{name} is still running (pid {child.proc.pid if child.proc else '?'})"
            )
        child.restarts += 1
        child.start()

    # -- lifecycle ------------------------------------------------------------------------------
    def check_ports(self) -> None:
        ensure_port_free("API", HOST, self.ports.api)
        self.servers.check_ports()

    def start(self) -> None:
        self.check_ports()
        if self.fresh and self.var.exists():
            shutil.rmtree(self.var)
        self.var.mkdir(parents=True, exist_ok=True)
        self.say(
            f"{self.name}: site {self.inventory.site.id!r}, "
            f"{len(self.inventory.buildings)} buildings, "
            f"{sum(1 for _ in self.inventory.equipment())} pieces of equipment"
        )
        self.servers.start()
        for line in self.servers.describe():
            self.say(line)
        self.start_extra_servers()
        self.children = self._plan_children()
        # The cloud and the gateway first, and the cloud answering (its subscriptions made)
        # before any agent starts: an agent reports every point once at start and then only
        # changes, so a reader that subscribed late would miss the values that do not change.
        readers = [c for c in self.children if c.name in READERS]
        for child in readers:
            self._start_child(child)
        if any(c.name == "cloud" for c in readers):
            self.wait_api()
        for child in self.children:
            if child not in readers:
                self._start_child(child)

    def _start_child(self, child: Child) -> None:
        child.start()
        pid = child.proc.pid if child.proc else "?"
        self.say(f"  {child.name:<14} pid {pid}   (log {child.log_path})")

    def wait_api(self, timeout: float = 60.0, also: Callable[[], bool] | None = None) -> None:
        """Wait until the API answers /api/health (and `also()` holds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children()
            try:
                with urllib.request.urlopen(f"{self.api_url}/api/health", timeout=2) as resp:
                    if resp.status == 200 and (also is None or also()):
                        return
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
        self.servers.stop()
        self.stop_extra_servers()

    def start_extra_servers(self) -> None:
        """Servers of a kind of stack beyond the site's own, started before its processes."""

    def stop_extra_servers(self) -> None:
        """Stop what `start_extra_servers` started."""

    def ready(self) -> None:
        """Wait until the site answers, then say how to use it."""
        self.wait_api()
        url = self.api_url
        database = self.child("cloud").env["PLANTROOM_DATABASE_URL"]
        self.say("")
        self.say(f"API and console:  {url}/   (OpenAPI: {url}/docs)")
        self.say("  The first user (its token is printed once):")
        self.say(f"  plantroom cloud user create admin --role admin --database-url '{database}'")
        if self.mqtt_users:
            self.say(f"  Broker logins, one per process: {self.servers.credentials_path}")
        self.say(
            f"  curl -G {self.servers.influx_url}/query --data-urlencode db=plantroom "
            "--data-urlencode 'q=SHOW MEASUREMENTS'"
        )
        self.say("Ctrl-C stops everything.")

    def run(self) -> None:
        """Start, wait, watch until Ctrl-C, SIGTERM or a process dying, then stop everything."""
        with stop_on_signals():
            try:
                self.start()
                self.ready()
                while True:
                    self.check_children()
                    self.servers.check()
                    time.sleep(LOOK_EVERY_S)
            except KeyboardInterrupt:
                self.say(f"\nStopping {self.name} …")
            finally:
                self.stop()
                self.say("Stopped.")


def run_servers(servers: Servers, inventory: Path | None, out: Any = None) -> None:
    """Run the managed servers until Ctrl-C or SIGTERM; with an inventory, write each of its
    processes' environment (`<var>/env/`) that points it at them and at the inventory."""
    out = out if out is not None else sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    with stop_on_signals():
        try:
            servers.check_ports()
            servers.start()
            say("Plantroom servers:")
            for line in servers.describe():
                say(line)
            say("")
            say("Every process:")
            for key, value in servers.env().items():
                say(f"  export {key}={value}")
            if inventory is not None and servers.inventory is not None:
                site = {"PLANTROOM_INVENTORY": str(inventory.resolve())}
                processes = {
                    edge_username(b.id): {
                        **site,
                        "PLANTROOM_EDGE_AGENT_ID": edge_username(b.id),
                        "PLANTROOM_EDGE_BUILDINGS": b.id,
                    }
                    for b in servers.inventory.buildings
                }
                files = servers.write_env_files({**processes, "gateway": site, "cloud": site})
                say("")
                say("Each process's environment, its broker login included (owner-only files):")
                for name, path in files.items():
                    say(f"  {name:<14} {path}")
                say("  e.g.  set -a; . <file>; set +a; plantroom gateway")
            say("Ctrl-C stops them.")
            while True:
                servers.check()
                time.sleep(LOOK_EVERY_S)
        except KeyboardInterrupt:
            say("\nStopping the servers …")
        finally:
            servers.stop()
            say("Stopped.")
