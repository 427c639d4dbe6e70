"""docker-compose.yml is checked for what can be checked without a container engine."""

from __future__ import annotations

from typing import Any

import yaml

from plantroom.settings import CloudSettings, EdgeSettings, GatewaySettings, SimSettings
from tests.conftest import REPO

PLANTROOM_COMMANDS = {"sim", "edge", "gateway", "cloud"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def known_variables() -> set[str]:
    names: set[str] = set()
    for cls in (CloudSettings, EdgeSettings, GatewaySettings, SimSettings):
        names |= {f"PLANTROOM_{name.upper()}" for name in cls.model_fields}
    return names


def test_every_service_restarts_and_the_stack_has_its_servers() -> None:
    services = compose()["services"]
    assert {"mosquitto", "influxdb", "postgres", "grafana"} <= set(services)
    for name, svc in services.items():
        assert svc.get("restart") == "unless-stopped", name


def test_plantroom_services_run_real_commands_with_known_settings() -> None:
    services = compose()["services"]
    known = known_variables()
    plantroom = {n: s for n, s in services.items() if s.get("build")}
    assert {s["command"][0] for s in plantroom.values()} == PLANTROOM_COMMANDS
    for name, svc in plantroom.items():
        for var in svc["environment"]:
            assert var in known, f"{name}: {var} is not a Plantroom setting"


def test_dependencies_and_mounts_resolve() -> None:
    data = compose()
    services = data["services"]
    volumes = set(data["volumes"])
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} mounts undeclared volume {source}"
    assert (REPO / "Dockerfile").exists()
