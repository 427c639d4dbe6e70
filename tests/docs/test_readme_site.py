"""The README's "Connect your own equipment" runs as written: its shell blocks, in order, in an
empty folder, with the simulator playing the example pump.

A block fenced as ```` ```sh background ```` is a long-running command (the simulator, the
site): it is started and left running; every other ```` ```sh ```` block runs to completion
and must succeed. The ports the section names (the device's 5020, the API's 8000, InfluxDB's
8086) are replaced by free ones in the commands, and every port `plantroom run` and the
simulator listen on comes from the environment (`PLANTROOM_API_PORT`, …), so the test runs
beside anything else on the machine. `plantroom` and
`python` are this checkout's, put first on PATH.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plantroom.ports import free_port
from stack.cli import app
from tests.harness import REPO, call_api, influx_query, terminate, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SECTION = "## Connect your own equipment"
BLOCK = re.compile(
    r"^(?:### (?P<heading>[^\n]+)|```(?P<info>sh[^\n]*)\n(?P<body>.*?)^```)", re.M | re.S
)
CHECK_HEADING = "Check the site"
PUMP_SPEEDS = "SELECT count(speed) FROM pump WHERE equipment = 'booster-1'"


@dataclass(frozen=True)
class Block:
    heading: str
    background: bool
    text: str


def section_blocks(readme: str) -> list[Block]:
    """The shell blocks of the README section, each with the `###` heading it is under."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    text = readme[start : end if end != -1 else None]
    blocks, heading = [], ""
    for m in BLOCK.finditer(text):
        if m["heading"] is not None:
            heading = m["heading"]
        else:
            blocks.append(Block(heading, "background" in m["info"].split(), m["body"]))
    return blocks


def cli_has(command: str) -> bool:
    return any(
        (c.name or (c.callback.__name__ if c.callback else "")) == command
        for c in app.registered_commands
    )


def test_the_section_has_the_steps_of_a_site() -> None:
    blocks = section_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    commands = [b.text.strip() for b in blocks]
    assert any("plantroom sim -i my-site/site.yaml" in c for c in commands)
    assert any(c.startswith("plantroom run -i my-site/site.yaml") for c in commands)
    assert [b.background for b in blocks].count(True) == 2
    assert any(CHECK_HEADING in b.heading and "plantroom check" in b.text for b in blocks)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[dict[str, Any]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, line in (
        ("plantroom", f'exec "{sys.executable}" -m stack "$@"'),
        ("python", f'exec "{sys.executable}" "$@"'),
    ):
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\n{line}\n")
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        PLANTROOM_MQTT_PORT=str(free_port()),
        PLANTROOM_SIM_CONTROL_PORT=str(free_port()),
    )
    work = tmp_path / "work"
    work.mkdir()
    ports = {5020: free_port(), 8000: free_port(), 8086: free_port()}
    env.update(PLANTROOM_API_PORT=str(ports[8000]), PLANTROOM_INFLUX_PORT=str(ports[8086]))
    yield {"env": env, "cwd": work, "ports": ports}


def substituted(text: str, ports: dict[int, int]) -> str:
    for old, new in ports.items():
        text = re.sub(rf"\b{old}\b", str(new), text)
    return text


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def seen_by_cloud(cwd: Path) -> bool:
    """The cloud has taken in a sample of booster-1 (its database, read only)."""
    database = cwd / "my-site" / "var" / "cloud" / "plantroom.sqlite"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT last_seen FROM equipment WHERE id = 'booster-1'").fetchone()
    return row is not None and row[0] is not None


def answers(api: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    """The site's API answers; a site that exited fails with its output."""
    assert proc.poll() is None, f"plantroom run exited: {log.read_text(errors='replace')}"
    try:
        return call_api(api, "GET", "/api/health")[0] == 200
    except OSError:
        return False


def test_the_readme_section_runs(shell: dict[str, Any]) -> None:
    env, cwd, ports = shell["env"], shell["cwd"], shell["ports"]
    influx = f"http://127.0.0.1:{ports[8086]}"
    api = f"http://127.0.0.1:{ports[8000]}"
    outputs: dict[str, list[str]] = {}
    running: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for n, block in enumerate(section_blocks((REPO / "README.md").read_text("utf-8"))):
            text = substituted(block.text, ports)
            if CHECK_HEADING in block.heading and not cli_has("check"):
                continue  # the site check is a command of its own, not in every build
            if not block.background:
                done = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", text],
                    cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
                )  # fmt: skip
                assert done.returncode == 0, f"{block.heading}: {text}\n{done.stderr}"
                outputs.setdefault(block.heading, []).append(done.stdout)
                continue
            log = cwd / f"background-{n}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    ["bash", "-c", f"exec {text.strip()}"],
                    cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            running.append((text.strip(), proc, log))
            if "plantroom sim" in text:
                wait_for(lambda: port_open(ports[5020]), "the simulated pump's port", within=30)
            else:
                wait_for(functools.partial(answers, api, proc, log), "the site's API", within=90)
                # the pump's readings reach InfluxDB through the edge agent and the gateway
                wait_for(
                    lambda: influx_query(influx, "plantroom", PUMP_SPEEDS),
                    "booster-1 in InfluxDB",
                    within=60,
                )
                # and through the cloud's intake ("within a few seconds" for both)
                wait_for(functools.partial(seen_by_cloud, cwd), "booster-1 in the cloud", within=60)
        assert "ok (pump, modbus, 8 points)" in outputs["1. Write the profile"][0]
        seen = outputs["5. See the data"]
        series = json.loads(seen[0])["results"][0]["series"][0]
        assert series["columns"] == ["time", "speed", "discharge_pressure"]
        assert series["values"] and all(v[1] is not None for v in series["values"])
        equipment = json.loads(seen[1])
        assert equipment["id"] == "booster-1"
        assert equipment["last_seen"] is not None
        assert {"run_state", "speed", "discharge_pressure"} <= set(equipment["last_values"])
    finally:
        for _, proc, _ in reversed(running):
            terminate(proc, within=30)
    for command, proc, log in running:
        assert proc.returncode == 0, f"{command}: {log.read_text(errors='replace')[-2000:]}"
    site_log = running[-1][2].read_text(errors="replace")
    assert "Stopping Plantroom" in site_log and site_log.rstrip().endswith("Stopped.")
