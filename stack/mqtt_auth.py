"""Broker security: per-client users, topic ACLs, and TLS files for mosquitto.

Each Plantroom process connects as its own user, and the ACL gives it only what it needs:

- edge: publish under its own building (`plantroom/v1/<site>/<building>/#`) and its own
  agent topics (`plantroom/v1/<site>/edge/<agent>/#`), read its building's vendor topics;
  an edge box that serves a whole site gets `plantroom/v1/<site>/#` instead
- gateway: read telemetry
- cloud: read everything under `plantroom/v1/`
- simulator: publish the vendor topics it simulates
- admin: read and write everything

Passwords reach mosquitto's password file hashed (`mosquitto_passwd -U`), never on a
command line.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from plantroom.errors import ConfigError, ServiceError
from plantroom.inventory import Inventory, Mqtt
from plantroom.topics import PREFIX, TELEMETRY_WILDCARD, check_segment

Role = Literal["edge", "gateway", "cloud", "simulator", "admin"]


@dataclass(frozen=True)
class MqttUser:
    username: str
    password: str = field(repr=False)
    role: Role
    site: str | None = None
    vendor_topics: tuple[str, ...] = ()
    building: str | None = None  # an edge box of one building; None = the whole site
    agent: str | None = None  # the edge agent id it publishes health as (default: username)

    def __post_init__(self) -> None:
        check_segment(self.username, "MQTT username")
        if self.role == "edge" and not self.site:
            raise ConfigError(f"MQTT user {self.username!r}: an edge user needs its site")
        if self.building is not None or self.agent is not None:
            if self.role != "edge":
                raise ConfigError(
                    f"MQTT user {self.username!r}: only an edge user has a building or agent"
                )
            check_segment(self.building or self.username, "MQTT user building")
            check_segment(self.agent or self.username, "MQTT user agent")
        if ":" in self.password or "\n" in self.password or not self.password:
            raise ConfigError(f"MQTT user {self.username!r}: password may not be empty or hold ':'")


def acl_lines(user: MqttUser) -> list[str]:
    lines = [f"user {user.username}"]
    if user.role == "edge" and user.building is not None:
        lines.append(f"topic write {PREFIX}/{user.site}/{user.building}/#")
        lines.append(f"topic write {PREFIX}/{user.site}/edge/{user.agent or user.username}/#")
        lines.extend(f"topic read {t}" for t in user.vendor_topics)
    elif user.role == "edge":
        lines.append(f"topic write {PREFIX}/{user.site}/#")
        lines.extend(f"topic read {t}" for t in user.vendor_topics)
    elif user.role == "gateway":
        lines.append(f"topic read {TELEMETRY_WILDCARD}")
    elif user.role == "cloud":
        lines.append(f"topic read {PREFIX}/#")
    elif user.role == "simulator":
        lines.extend(f"topic write {t}" for t in user.vendor_topics)
    else:
        lines.append("topic readwrite #")
    return lines


def site_users(inventory: Inventory, passwords: Mapping[str, str]) -> list[MqttUser]:
    """The broker users of one site: an edge login per building (agent `edge-<building>`),
    then gateway, cloud, simulator and admin. `passwords` maps each username to its password;
    a missing one is an error naming the user."""

    def password(name: str) -> str:
        if name not in passwords:
            raise ConfigError(f"no MQTT password for user {name!r}")
        return passwords[name]

    site = inventory.site.id
    users: list[MqttUser] = []
    all_topics: list[str] = []
    for b in inventory.buildings:
        topics = tuple(
            sorted(e.connection.topic for e in b.equipment if isinstance(e.connection, Mqtt))
        )
        all_topics.extend(topics)
        name = edge_username(b.id)
        users.append(
            MqttUser(name, password(name), "edge", site=site, vendor_topics=topics, building=b.id)
        )
    users += [
        MqttUser("gateway", password("gateway"), "gateway"),
        MqttUser("cloud", password("cloud"), "cloud"),
        MqttUser(
            "simulator", password("simulator"), "simulator", vendor_topics=tuple(sorted(all_topics))
        ),
        MqttUser("admin", password("admin"), "admin"),
    ]
    return users


def edge_username(building: str) -> str:
    """The broker login, and the agent id, of the edge box of one building."""
    return f"edge-{building}"


def site_usernames(inventory: Inventory) -> list[str]:
    return [edge_username(b.id) for b in inventory.buildings] + [
        "gateway", "cloud", "simulator", "admin",
    ]  # fmt: skip


def acl_text(users: Iterable[MqttUser]) -> str:
    blocks = ["\n".join(acl_lines(u)) for u in users]
    return (
        "# Plantroom broker ACL: each client only what its role needs.\n\n"
        + "\n\n".join(blocks)
        + "\n"
    )


def write_password_file(path: Path, users: Iterable[MqttUser]) -> None:
    """Write `user:password` lines, then let mosquitto_passwd hash them in place."""
    from stack.binaries import find_binary

    path.write_text("".join(f"{u.username}:{u.password}\n" for u in users))
    path.chmod(0o600)
    result = subprocess.run(
        [find_binary("mosquitto_passwd"), "-U", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        path.unlink(missing_ok=True)
        raise ServiceError(f"mosquitto_passwd failed: {result.stderr.strip()}")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def self_signed(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A private CA and a server certificate for `host`, for tests and single-host set-ups."""
    from stack.binaries import find_binary

    directory.mkdir(parents=True, exist_ok=True)
    openssl = find_binary("openssl")
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    san = f"IP:{host}" if host.replace(".", "").isdigit() else f"DNS:{host}"
    ext.write_text(f"subjectAltName={san}\n")
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
         "-subj", "/CN=Plantroom test CA", "-keyout", str(ca_key), "-out", str(ca)],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
         "-keyout", str(key), "-out", str(csr)],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "3650", "-extfile", str(ext), "-out", str(cert)],
    ]  # fmt: skip
    for cmd in steps:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"openssl failed: {result.stderr.strip()[-400:]}")
    key.chmod(0o600)
    return TlsFiles(ca=ca, cert=cert, key=key)
