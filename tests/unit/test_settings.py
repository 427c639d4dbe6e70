"""Settings come from PLANTROOM_* variables and fail naming the variable."""

from __future__ import annotations

import pytest

from plantroom.errors import ConfigError
from plantroom.settings import CloudSettings, EdgeSettings, GatewaySettings, load_settings


def test_shared_variables_reach_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTROOM_MQTT_PORT", "2883")
    monkeypatch.setenv("PLANTROOM_INFLUX_URL", "http://db:8086")
    assert load_settings(EdgeSettings).mqtt_port == 2883
    gw = load_settings(GatewaySettings)
    assert gw.mqtt_port == 2883 and gw.influx_url == "http://db:8086"
    assert load_settings(CloudSettings).influx_url == "http://db:8086"


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTROOM_API_PORT", "9000")
    assert load_settings(CloudSettings, api_port=9100).api_port == 9100
    assert load_settings(CloudSettings, api_port=None).api_port == 9000


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTROOM_MQTT_PORT", "eighteen")
    with pytest.raises(ConfigError, match="PLANTROOM_MQTT_PORT"):
        load_settings(EdgeSettings)


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTROOM_MQTT_PASSWORD", "hunter2")
    settings = load_settings(EdgeSettings)
    assert "hunter2" not in repr(settings)
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "hunter2"
