"""The campus benchmark's stack: mosquitto and influxd, then the simulator, cloud, gateway and
one edge agent per building as `plantroom` processes, each with its log; stopped edges first.
The cloud's `email` channel is a real SMTP server in this process (`TimedMailbox`), so its
work orders are told to the demo's people on call. `running_campus` runs the whole of it in a
temporary directory (the campus load and the soak)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.campus_faults import TimedMailbox, channels_yaml
from benchmarks.campus_params import (
    BUILDINGS,
    HEALTH_INTERVAL_S,
    HOST,
    MQTT_STALE_AFTER_S,
    PER_KIND,
    PLANTROOM,
    SITE,
    START_TIMEOUT_S,
)
from benchmarks.measure import parse_metrics, port_block, servers
from plantroom.ports import free_port
from simulators.control import ControlClient
from simulators.errors import ControlError
from simulators.generate import generate_site, generated_ports
from stack.services import Influxd, Mosquitto

# -- the processes ----------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            rows = self.log.read_text(errors="replace").splitlines()
            return "\n".join([r for r in rows if " token: " not in r][-lines:])  # no secrets
        return ""


@dataclass
class Stack:
    work: Path
    mosquitto: Mosquitto
    influxd: Influxd
    mailbox: TimedMailbox
    control_url: str = ""
    api_url: str = ""
    token: str = ""
    metrics_url: str = ""
    children: list[Child] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Child:
        log = self.work / f"{name}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(PLANTROOM), *args, "--log-level", "WARNING"],
                cwd=self.work,
                env={**base, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited (code {child.proc.returncode}):\n{child.tail()}"
                )

    def pids(self) -> dict[str, int]:
        found = {c.name: c.proc.pid for c in self.children}
        for server in (self.mosquitto, self.influxd):
            if server.pid is not None:
                found[server.name] = server.pid
        return found

    def stop(self) -> None:
        """Stop every child process group: edges first, servers last; SIGKILL stragglers."""
        order = sorted(self.children, key=lambda c: 0 if c.name.startswith("edge") else 1)
        for child in order:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in order:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait(5)
            _signal_group(child.proc, signal.SIGKILL)  # anything the child left in its group


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait(what: str, ready: Any, stack: Stack, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")
        time.sleep(0.2)


def _sim_ready(url: str) -> bool:
    try:
        ControlClient(url, timeout=1).faults()
    except ControlError:
        return False
    return True


def _cloud_ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        health = httpx.get(f"{url}/api/health", timeout=1.0).json()
        return bool(health.get("mqtt", {}).get("connected"))
    return False


def _gateway_ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return "points_out" in parse_metrics(httpx.get(url, timeout=1.0).text)
    return False


def start_stack(stack: Stack, site_file: Path, buildings: int = BUILDINGS) -> None:
    mqtt = {
        "PLANTROOM_MQTT_HOST": stack.mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(stack.mosquitto.port),
    }
    inv = {"PLANTROOM_INVENTORY": str(site_file)}
    control = free_port()
    stack.control_url = f"http://{HOST}:{control}"
    stack.spawn("sim", ["sim"], {**mqtt, **inv, "PLANTROOM_SIM_CONTROL_PORT": str(control)})
    _wait("the simulator", lambda: _sim_ready(stack.control_url), stack)

    api = free_port()
    stack.api_url = f"http://{HOST}:{api}"
    credentials = stack.work / "credentials.json"
    channels = stack.work / "notifications.yaml"
    channels.write_text(channels_yaml(stack.mailbox.host, stack.mailbox.port), encoding="utf-8")
    stack.spawn(
        "cloud",
        ["cloud"],
        {
            **mqtt,
            **inv,
            "PLANTROOM_DATABASE_URL": f"sqlite:///{stack.work}/cloud.sqlite",
            "PLANTROOM_API_HOST": HOST,
            "PLANTROOM_API_PORT": str(api),
            "PLANTROOM_INFLUX_URL": stack.influxd.url,
            "PLANTROOM_DEMO_MODE": "true",
            "PLANTROOM_DEMO_CREDENTIALS_PATH": str(credentials),
            "PLANTROOM_GRAFANA_URL": "",
            "PLANTROOM_NOTIFICATIONS_FILE": str(channels),
        },
    )
    metrics_port = free_port()
    stack.metrics_url = f"http://{HOST}:{metrics_port}/metrics"
    stack.spawn(
        "gateway",
        ["gateway"],
        {
            **mqtt,
            **inv,
            "PLANTROOM_INFLUX_URL": stack.influxd.url,
            "PLANTROOM_GATEWAY_BUFFER_DIR": str(stack.work / "gateway-buffer"),
            "PLANTROOM_GATEWAY_METRICS_PORT": str(metrics_port),
        },
    )
    _wait("the cloud service", lambda: _cloud_ready(stack.api_url), stack)
    users = json.loads(credentials.read_text())["users"]
    stack.token = next(u["token"] for u in users if u["username"] == "tech1")
    _wait("the gateway", lambda: _gateway_ready(stack.metrics_url), stack)

    for b in range(1, buildings + 1):
        building = f"b{b:0{len(str(buildings))}d}"
        agent = f"edge-{building}"
        stack.agents.append(agent)
        stack.spawn(
            agent,
            ["edge", "--agent-id", agent, "--building", building],
            {
                **mqtt,
                **inv,
                "PLANTROOM_EDGE_BUFFER_PATH": str(stack.work / agent / "buffer.sqlite"),
                "PLANTROOM_EDGE_POLL_INTERVAL_S": "1.0",
                "PLANTROOM_EDGE_NORMAL_EVERY": "1",
                "PLANTROOM_EDGE_SLOW_EVERY": "1",
                "PLANTROOM_EDGE_HEALTH_INTERVAL_S": str(HEALTH_INTERVAL_S),
                "PLANTROOM_EDGE_MQTT_STALE_AFTER_S": str(MQTT_STALE_AFTER_S),
            },
        )


@contextlib.contextmanager
def running_campus(prefix: str, buildings: int = BUILDINGS) -> Iterator[tuple[Stack, Path, float]]:
    """The campus stack of `buildings` buildings running in a temporary directory named from
    `prefix`: the stack, its generated site file and when its first process was started
    (monotonic clock); everything is stopped and removed on leaving."""
    if not PLANTROOM.exists():
        raise RuntimeError(f"{PLANTROOM} is missing; run `make setup`")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        mailbox = TimedMailbox(HOST, free_port())
        with servers(work) as (mosquitto, influxd), mailbox:
            base = port_block(generated_ports(buildings, PER_KIND))
            site_file = work / "site.yaml"
            site_file.write_text(generate_site(buildings, PER_KIND, base, site=SITE))
            stack = Stack(work, mosquitto, influxd, mailbox)
            try:
                started = time.monotonic()
                start_stack(stack, site_file, buildings)
                yield stack, site_file, started
            finally:
                stack.stop()
