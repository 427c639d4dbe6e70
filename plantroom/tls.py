"""TLS contexts: a client's (to the broker, to InfluxDB) and a server's (the cloud API).

Every context is built here, so every process verifies peers the same way: the system's
trusted CAs or a given CA file, hostname checking on, TLS 1.2 at least. A file that cannot
work fails when the context is built, with a `ConfigError` naming the setting that points at
it, not at the first connection.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from plantroom.errors import ConfigError
from plantroom.settings import MqttSettings


def client_context(
    ca_file: Path | None = None,
    *,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    ca_setting: str = "CA file",
    cert_setting: str = "client certificate",
) -> ssl.SSLContext:
    """A client context trusting `ca_file` (the system's CAs when None), presenting
    `cert_file` (with `key_file`, or a key inside the certificate file) when given."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{ca_setting} {ca_file}: not a readable CA certificate ({exc})") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{cert_setting} {cert_file}: cannot load it with key {key_file or cert_file} "
                f"({exc})"
            ) from exc
    elif key_file is not None:
        raise ConfigError(f"{cert_setting}: a key file ({key_file}) is set without a certificate")
    return context


def mqtt_client_context(settings: MqttSettings) -> ssl.SSLContext | None:
    """The broker connection's context: None without `PLANTROOM_MQTT_TLS`."""
    if not settings.mqtt_tls:
        return None
    return client_context(settings.mqtt_ca_file, ca_setting="PLANTROOM_MQTT_CA_FILE")


def server_context(
    cert_file: Path,
    key_file: Path,
    *,
    cert_setting: str = "certificate",
    key_setting: str = "key",
) -> ssl.SSLContext:
    """A server context presenting `cert_file` (a PEM chain) with `key_file`."""
    for setting, path in ((cert_setting, cert_file), (key_setting, key_file)):
        if not path.is_file():
            raise ConfigError(f"{setting}: {path} is not a file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{cert_setting} / {key_setting}: cannot load {cert_file} with {key_file}: {exc}"
        ) from exc
    return context
