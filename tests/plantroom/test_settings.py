"""Settings come from PLANTROOM_* variables and fail naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from plantroom.errors import ConfigError
from plantroom.settings import (
    CloudSettings,
    EdgeSettings,
    GatewaySettings,
    InfluxSettings,
    MqttSettings,
    SimSettings,
    load_settings,
)


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


def test_secret_files_fill_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plantroom.settings import GatewaySettings

    (tmp_path / "plantroom_mqtt_password").write_text("from-a-file\n")
    monkeypatch.setenv("PLANTROOM_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("PLANTROOM_MQTT_PASSWORD", raising=False)
    settings = load_settings(GatewaySettings)
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(settings)
    monkeypatch.setenv("PLANTROOM_MQTT_PASSWORD", "from-env")
    password = load_settings(GatewaySettings).mqtt_password
    assert password is not None and password.get_secret_value() == "from-env"


def test_missing_secrets_dir_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plantroom.settings import GatewaySettings

    monkeypatch.setenv("PLANTROOM_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="PLANTROOM_SECRETS_DIR"):
        load_settings(GatewaySettings)


@pytest.mark.parametrize(
    "cls", [MqttSettings, InfluxSettings, EdgeSettings, GatewaySettings, CloudSettings, SimSettings]
)
def test_every_setting_says_what_it_is(cls: type[BaseSettings]) -> None:
    undescribed = [name for name, f in cls.model_fields.items() if not f.description]
    assert not undescribed, f"{cls.__name__}: no description for {', '.join(undescribed)}"


def test_the_cloud_tickers_keep_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTROOM_PM_DIR", "/srv/pm")
    monkeypatch.setenv("PLANTROOM_PM_INTERVAL_S", "15")
    monkeypatch.setenv("PLANTROOM_PM_ENABLED", "false")
    monkeypatch.setenv("PLANTROOM_ESCALATION_INTERVAL_S", "2.5")
    monkeypatch.setenv("PLANTROOM_NOTIFY_POLL_INTERVAL_S", "0.5")
    settings = load_settings(CloudSettings)
    assert settings.pm_dir == Path("/srv/pm") and settings.pm_interval_s == 15
    assert settings.pm_enabled is False
    assert settings.escalation_interval_s == 2.5 and settings.notify_poll_interval_s == 0.5
    monkeypatch.setenv("PLANTROOM_PM_INTERVAL_S", "90000")
    with pytest.raises(ConfigError, match="PLANTROOM_PM_INTERVAL_S"):
        load_settings(CloudSettings)


def test_the_simulator_scenario_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(SimSettings).sim_scenario is None
    monkeypatch.setenv("PLANTROOM_SIM_SCENARIO", "sites/scenarios/bearing-wear.yaml")
    assert load_settings(SimSettings).sim_scenario == Path("sites/scenarios/bearing-wear.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://a.example/x,http://b.example/y", ["http://a.example/x", "http://b.example/y"]),
        (" http://a.example/x , ", ["http://a.example/x"]),
        (
            '["http://a.example/x", "http://b.example/y"]',
            ["http://a.example/x", "http://b.example/y"],
        ),
        ("", []),
    ],
)
def test_a_list_setting_takes_comma_separated_text_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    monkeypatch.setenv("PLANTROOM_WEBHOOK_URLS", text)
    assert load_settings(CloudSettings).webhook_urls == expected
    monkeypatch.setenv("PLANTROOM_EDGE_BUILDINGS", text.replace("http://", "").replace("/", "-"))
    assert load_settings(EdgeSettings).edge_buildings == [
        e.replace("http://", "").replace("/", "-") for e in expected
    ]


def test_a_broken_json_list_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTROOM_EDGE_BUILDINGS", '["tower-a",')
    with pytest.raises(ConfigError, match="PLANTROOM_EDGE_BUILDINGS"):
        load_settings(EdgeSettings)
