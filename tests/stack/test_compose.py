"""docker-compose.yml: valid for Debian's docker-compose (`docker-compose config -q`), and
complete: every service restarts and has a health check, every named volume is declared,
every Plantroom variable is a setting of the process it is given to, no secret is written
in the file, and the broker's ACL is the one `stack.mqtt_auth` makes for the campus."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from plantroom.inventory import load_inventory
from plantroom.settings import CloudSettings, EdgeSettings, GatewaySettings, SimSettings
from stack.mqtt_auth import acl_text, site_usernames, site_users
from tests.harness import REPO

SETTINGS: dict[str, type[BaseSettings]] = {
    "sim": SimSettings,
    "edge": EdgeSettings,
    "gateway": GatewaySettings,
    "cloud": CloudSettings,
}
SERVERS = {"mosquitto", "influxdb", "postgres", "grafana"}
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")
INTERPOLATED = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]+\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def env_example() -> dict[str, str]:
    names: dict[str, str] = {}
    for line in (REPO / "deploy" / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            names[name] = value
    return names


def known_variables(cls: type[BaseSettings]) -> set[str]:
    return {f"PLANTROOM_{name.upper()}" for name in cls.model_fields}


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("Debian's docker-compose is not installed (apt-get install docker-compose)")
    env = tmp_path / "env"
    env.write_text("".join(f"{name}=x-{name.lower()}\n" for name in env_example()))
    ok = subprocess.run(
        [binary, "--env-file", str(env), "config", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "empty").write_text("")
    missing = subprocess.run(
        [binary, "--env-file", str(tmp_path / "empty"), "config", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert missing.returncode != 0  # a secret left unset stops compose
    assert "in .env" in missing.stderr


def test_every_service_restarts_and_has_a_health_check() -> None:
    services = compose()["services"]
    assert set(services) >= SERVERS
    assert {s["command"][0] for s in services.values() if "command" in s} == set(SETTINGS)
    for name, svc in services.items():
        assert svc.get("restart") == "unless-stopped", name
        check = svc.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no health check"
        assert {"interval", "retries"} <= set(check), name


def test_the_simulators_are_optional() -> None:
    services = compose()["services"]
    assert services["simulators"]["profiles"] == ["sim"]
    for name, svc in services.items():
        assert "profiles" in svc or "simulators" not in svc.get("depends_on", {}), name


def test_plantroom_variables_are_settings_of_their_process() -> None:
    for name, svc in compose()["services"].items():
        if "command" not in svc:
            continue
        cls = SETTINGS[svc["command"][0]]
        for var in svc["environment"]:
            assert var in known_variables(cls), f"{name}: {var} is not a {cls.__name__} field"
        assert "PLANTROOM_MQTT_PASSWORD" in svc["environment"], f"{name} signs in to MQTT"


def test_no_secret_is_written_in_the_file() -> None:
    example = env_example()
    assert example and not any(example.values()), "deploy/env.example holds no values"
    used: set[str] = set()
    for name, svc in compose()["services"].items():
        for var, value in svc.get("environment", {}).items():
            text = str(value)
            used |= set(INTERPOLATED.findall(text))
            if any(word in var for word in SECRET_WORDS):
                assert INTERPOLATED.fullmatch(text), f"{name}: {var} is not taken from .env"
        url = svc.get("environment", {}).get("PLANTROOM_DATABASE_URL", "")
        assert not url or INTERPOLATED.search(url), f"{name}: a database password in the URL"
    assert used == set(example), "deploy/env.example and the file name different secrets"


def test_mounts_and_volumes_resolve() -> None:
    data = compose()
    services = data["services"]
    volumes = set(data["volumes"])
    mounted: set[str] = set()
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} mounts undeclared volume {source}"
                mounted.add(source)
    assert mounted == volumes, f"declared but unused volumes: {volumes - mounted}"
    edges = [
        f"edge-{b.id}" for b in load_inventory(REPO / "deploy" / "sites" / "harbour.yaml").buildings
    ]
    for name in ("mosquitto", "influxdb", "postgres", "grafana", *edges, "gateway", "cloud"):
        assert any(":" in m and not m.startswith("./") for m in services[name]["volumes"]), name
    assert (REPO / "Dockerfile").exists()
    assert (REPO / "dashboards" / "provisioning" / "dashboards").is_dir()
    assert list((REPO / "dashboards" / "generated").glob("*.json"))


def test_the_broker_takes_users_and_acls_and_persists() -> None:
    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    assert "allow_anonymous false" in conf
    assert "persistence true" in conf
    assert any(line.startswith("password_file ") for line in conf)
    inventory = load_inventory(REPO / "deploy" / "sites" / "harbour.yaml")
    users = site_users(inventory, {n: "-" for n in site_usernames(inventory)})
    assert [u.building for u in users if u.role == "edge"] == [b.id for b in inventory.buildings]
    assert (REPO / "deploy" / "mosquitto" / "acl").read_text() == acl_text(users)
    services = compose()["services"]
    names = {
        svc["environment"]["PLANTROOM_MQTT_USERNAME"]
        for svc in services.values()
        if "command" in svc
    }
    assert names | {"admin"} == {u.username for u in users}
    broker_env = set(services["mosquitto"]["environment"])
    assert broker_env == {"MQTT_PASSWORD_" + n.upper().replace("-", "_") for n in names | {"admin"}}
    script = (REPO / "deploy" / "mosquitto" / "entrypoint.sh").read_text()
    assert f"for user in {' '.join(u.username for u in users)};" in script


def test_the_compose_campus_is_the_demo_campus_on_the_simulators_host() -> None:
    demo = load_inventory(REPO / "sites" / "demo.yaml")
    harbour = load_inventory(REPO / "deploy" / "sites" / "harbour.yaml")
    assert harbour.site == demo.site
    pairs = list(zip(demo.equipment(), harbour.equipment(), strict=True))
    for (_, d), (_, h) in pairs:
        host = getattr(h.connection, "host", None)
        assert host in (None, "simulators"), h.id
        expected = d.connection.model_copy(update={"host": host}) if host else d.connection
        assert h.model_copy(update={"connection": expected}) == h
        assert h.model_copy(update={"connection": d.connection}) == d
