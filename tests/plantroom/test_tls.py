"""TLS contexts: one builder for clients (broker, InfluxDB) and the API server."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from plantroom.errors import ConfigError
from plantroom.settings import MqttSettings
from plantroom.tls import client_context, mqtt_client_context, server_context
from stack.mqtt_auth import TlsFiles, self_signed


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_a_client_context_verifies_the_peer_with_the_given_ca(tls: TlsFiles) -> None:
    context = client_context(tls.ca)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1  # the given CA only, not the system's


def test_a_client_context_may_present_a_certificate(tls: TlsFiles) -> None:
    client_context(tls.ca, cert_file=tls.cert, key_file=tls.key)
    other = self_signed(tls.ca.parent / "other")
    with pytest.raises(ConfigError, match=r"PLANTROOM_X_CERT .*cannot load it"):
        client_context(
            tls.ca, cert_file=tls.cert, key_file=other.key, cert_setting="PLANTROOM_X_CERT"
        )
    with pytest.raises(ConfigError, match=r"key file .* without a certificate"):
        client_context(tls.ca, key_file=tls.key)


@pytest.mark.parametrize("bad", ["not-a-ca.pem", "missing.pem"])
def test_a_ca_file_that_cannot_work_names_the_setting(tmp_path: Path, bad: str) -> None:
    path = tmp_path / bad
    if bad.startswith("not"):
        path.write_text("this is not a certificate\n")
    settings = MqttSettings(mqtt_tls=True, mqtt_ca_file=path)
    with pytest.raises(ConfigError, match=f"PLANTROOM_MQTT_CA_FILE {path}: not a readable CA"):
        mqtt_client_context(settings)


def test_no_tls_no_context(tls: TlsFiles) -> None:
    assert mqtt_client_context(MqttSettings(mqtt_tls=False, mqtt_ca_file=tls.ca)) is None
    assert mqtt_client_context(MqttSettings(mqtt_tls=True)) is not None  # the system's CAs


def test_a_server_context_loads_the_pair_or_names_what_is_wrong(
    tls: TlsFiles, tmp_path: Path
) -> None:
    context = server_context(tls.cert, tls.key)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    with pytest.raises(ConfigError, match=r"KEY: .* is not a file"):
        server_context(tls.cert, tmp_path, key_setting="KEY")
    other = self_signed(tmp_path / "other")
    with pytest.raises(ConfigError, match="CERT / KEY: cannot load"):
        server_context(tls.cert, other.key, cert_setting="CERT", key_setting="KEY")
