"""The cloud API over HTTPS: `plantroom cloud` with a certificate and key serves TLS that a
client verifying against the CA accepts, refuses plain HTTP and clients that do not trust the
CA; a half or broken configuration stops the start before listening."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cloud.main import tls_files
from plantroom.errors import ConfigError
from plantroom.ports import free_port
from plantroom.settings import CloudSettings
from stack.mqtt_auth import self_signed
from stack.services import Mosquitto
from tests.harness import REPO, wait_for

pytestmark = pytest.mark.integration


def settings(tmp: Path, **extra: object) -> CloudSettings:
    return CloudSettings(
        inventory=REPO / "sites" / "demo.yaml",
        database_url=f"sqlite:///{tmp}/cloud.sqlite",
        api_port=free_port(),
        **extra,  # type: ignore[arg-type]
    )


def test_half_or_broken_tls_settings_are_config_errors(tmp_path: Path) -> None:
    tls = self_signed(tmp_path / "tls")
    assert tls_files(settings(tmp_path)) is None
    with pytest.raises(ConfigError, match=r"PLANTROOM_API_TLS_CERT_FILE is set but .*KEY_FILE"):
        tls_files(settings(tmp_path, api_tls_cert_file=tls.cert))
    with pytest.raises(ConfigError, match=r"PLANTROOM_API_TLS_KEY_FILE is set but .*CERT_FILE"):
        tls_files(settings(tmp_path, api_tls_key_file=tls.key))
    with pytest.raises(ConfigError, match=r"PLANTROOM_API_TLS_KEY_FILE: .* is not a file"):
        tls_files(settings(tmp_path, api_tls_cert_file=tls.cert, api_tls_key_file=tmp_path))
    other = self_signed(tmp_path / "other")
    with pytest.raises(ConfigError, match="cannot load"):  # a key that is not the cert's
        tls_files(settings(tmp_path, api_tls_cert_file=tls.cert, api_tls_key_file=other.key))
    assert tls_files(settings(tmp_path, api_tls_cert_file=tls.cert, api_tls_key_file=tls.key)) == (
        str(tls.cert),
        str(tls.key),
    )


def test_the_cloud_process_serves_https(tmp_path: Path, mosquitto: Mosquitto) -> None:
    tls = self_signed(tmp_path / "tls", host="127.0.0.1")
    port = free_port()
    env = {
        **os.environ,
        "PLANTROOM_INVENTORY": str(REPO / "sites" / "demo.yaml"),
        "PLANTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/cloud.sqlite",
        "PLANTROOM_API_PORT": str(port),
        "PLANTROOM_MQTT_HOST": mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(mosquitto.port),
        "PLANTROOM_CLOUD_SHARE_GROUP": f"rules-{port}",
        "PLANTROOM_CLOUD_INFLUX_ENABLED": "false",
        "PLANTROOM_API_TLS_CERT_FILE": str(tls.cert),
        "PLANTROOM_API_TLS_KEY_FILE": str(tls.key),
    }
    trusted = ssl.create_default_context(cafile=str(tls.ca))
    base = f"https://127.0.0.1:{port}"
    log = tmp_path / "cloud.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stack", "cloud"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return httpx.get(f"{base}/api/health", verify=trusted, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "the cloud API over HTTPS", within=30)
        r = httpx.get(f"{base}/api/me", verify=trusted, timeout=5)
        assert r.status_code == 401  # TLS carries the API as before: a token is still needed
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/api/health", timeout=5)  # the system CAs do not know ours
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)  # no plain HTTP
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
    assert f"cloud API on https://127.0.0.1:{port}" in log.read_text()
