"""Broker security: per-client users, topic ACLs, and TLS files for mosquitto.

Each Plantroom process connects as its own user, and the ACL gives it only what it needs:

- edge: publish under its own site (`plantroom/v1/<site>/#`), read its vendor topics
- gateway: read telemetry
- cloud: read everything under `plantroom/v1/`
- simulator: publish the vendor topics it simulates
- admin: read and write everything

Passwords reach mosquitto's password file hashed (`mosquitto_passwd -U`), never on a
command line.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from plantroom.errors import ConfigError, ServiceError
from plantroom.topics import PREFIX, TELEMETRY_WILDCARD, check_segment

Role = Literal["edge", "gateway", "cloud", "simulator", "admin"]


@dataclass(frozen=True)
class MqttUser:
    username: str
    password: str = field(repr=False)
    role: Role
    site: str | None = None
    vendor_topics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_segment(self.username, "MQTT username")
        if self.role == "edge" and not self.site:
            raise ConfigError(f"MQTT user {self.username!r}: an edge user needs its site")
        if ":" in self.password or "\n" in self.password or not self.password:
            raise ConfigError(f"MQTT user {self.username!r}: password may not be empty or hold ':'")


def acl_lines(user: MqttUser) -> list[str]:
    lines = [f"user {user.username}"]
    if user.role == "edge":
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
