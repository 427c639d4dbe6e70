"""One settings class per process, read from the environment (prefix `PLANTROOM_`).

Settings that more than one process needs (the broker, InfluxDB, the inventory) have the
same variable everywhere, so one environment serves every process on a box:

    PLANTROOM_MQTT_HOST, PLANTROOM_MQTT_PORT, PLANTROOM_MQTT_USERNAME, PLANTROOM_MQTT_PASSWORD
    PLANTROOM_INFLUX_URL, PLANTROOM_INFLUX_DATABASE, PLANTROOM_INFLUX_TOKEN, ...
    PLANTROOM_INVENTORY

A bad value fails at start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings

from plantroom.admissionsettings import AdmissionSettings
from plantroom.clustersettings import ClusterSettings
from plantroom.errors import ConfigError
from plantroom.filesettings import FileSettings
from plantroom.maintenancesettings import MaintenanceSettings
from plantroom.notifysettings import NotificationSettings
from plantroom.requestsettings import RequestSettings
from plantroom.settingtypes import ENV_PREFIX, SettingsGroup, TextList
from plantroom.webhooksettings import WebhookSettings


class MqttSettings(SettingsGroup):
    mqtt_host: str = Field(default="127.0.0.1", description="the MQTT broker's host")
    mqtt_port: int = Field(
        default=1883, ge=1, le=65535, description="the broker's port (TLS listeners: usually 8883)"
    )
    mqtt_username: str | None = Field(default=None, description="broker login; none: anonymous")
    mqtt_password: SecretStr | None = Field(default=None, description="broker password")
    mqtt_tls: bool = Field(
        default=False,
        description="connect with TLS; the broker's certificate must verify and match the host",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the broker's certificate (a private CA); "
        "none: the system's trusted CAs",
    )
    mqtt_keepalive: int = Field(default=30, ge=5, description="MQTT keepalive, seconds")


class InfluxSettings(SettingsGroup):
    influx_url: str = Field(
        default="http://127.0.0.1:8086", description="InfluxDB base URL (a path prefix is kept)"
    )
    influx_database: str = Field(default="plantroom", description="the `db` of `/write`")
    influx_retention_policy: str | None = Field(default=None, description="the `rp` of `/write`")
    influx_username: str | None = Field(default=None, description="sent as `u` of `/write`")
    influx_password: SecretStr | None = Field(default=None, description="sent as `p` of `/write`")
    influx_token: SecretStr | None = Field(
        default=None, description="InfluxDB 2.x/3.x token, sent as `Authorization: Token …`"
    )
    influx_create_database: bool = Field(
        default=True, description="create the database (and the retention policy) at start"
    )


class ClockSettings(SettingsGroup):
    max_clock_skew_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description=(
            "how far ahead of this process's clock a sample's time may be; a later one is"
            " refused and counted, so a fast clock or a forged time cannot shadow real samples"
        ),
    )


class EdgeSettings(MqttSettings, ClockSettings):
    inventory: Path = Field(default=Path("sites/demo.yaml"), description="the site inventory")
    edge_agent_id: str = Field(
        default="edge-1",
        description=(
            "this agent's name: MQTT client id `plantroom-edge-<id>`, topics `…/edge/<id>/…`"
        ),
    )
    edge_buildings: TextList = Field(
        default_factory=list, description="building ids this agent serves; empty: every building"
    )
    edge_profiles_dir: Path | None = Field(default=None, description="extra profile folder")
    edge_poll_interval_s: float = Field(
        default=1.0, gt=0, description="the fast poll class's interval"
    )
    edge_timeout_s: float = Field(
        default=1.0, gt=0, description="how long one request waits for its answer"
    )
    edge_offline_after: int = Field(
        default=3, ge=1, description="consecutive failures after which a device is offline"
    )
    edge_buffer_path: Path = Field(
        default=Path("var/edge/buffer.sqlite"), description="the store-and-forward queue file"
    )
    edge_buffer_max_samples: int = Field(
        default=500_000,
        ge=1000,
        description="queue bound; at the bound the oldest measurement is dropped, never an alarm",
    )
    edge_normal_every: int = Field(default=5, ge=1, description="normal class = N fast polls")
    edge_slow_every: int = Field(default=30, ge=1, description="slow class = N fast polls")
    edge_commit_interval_s: float = Field(
        default=0.5, ge=0, description="buffer commit window: what a kill -9 may lose"
    )
    edge_buffer_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="FULL: the buffer's bound holds across a power cut, at more disk writes",
    )
    edge_inter_frame_delay_s: float = Field(
        default=0.0, ge=0, description="pause between exchanges on one hub (RS-485 lines)"
    )
    edge_publish_window: int = Field(default=100, ge=1, description="unacknowledged publishes")
    edge_backoff_initial_s: float = Field(
        default=0.5, gt=0, description="a hub's first reconnect delay (jittered, exponential)"
    )
    edge_backoff_max_s: float = Field(
        default=30.0, gt=0, description="a hub's longest reconnect delay"
    )
    edge_offline_retry_max_s: float = Field(
        default=60.0, gt=0, description="longest pause between polls of an offline device"
    )
    edge_mqtt_stale_after_s: float | None = Field(
        default=None, gt=0, description="default: twice the slow interval"
    )
    edge_stats_log_interval_s: float = Field(
        default=300.0, gt=0, description="how often the agent logs its counters"
    )
    edge_stop_drain_s: float = Field(
        default=2.0, ge=0, description="on SIGTERM, how long to keep sending before disconnecting"
    )
    edge_health_interval_s: float = Field(
        default=10.0, gt=0, description="how often the agent publishes its EdgeHealth report"
    )


class GatewaySettings(MqttSettings, InfluxSettings, ClockSettings):
    inventory: Path | None = Field(
        default=None,
        description=(
            "the site inventory; when given, lines get a `floor` tag and (see"
            " PLANTROOM_GATEWAY_INVENTORY_ONLY) telemetry of equipment not in it is refused"
        ),
    )
    gateway_inventory_only: bool = Field(
        default=True,
        description=(
            "with an inventory: telemetry whose site, building, kind and equipment are not in it"
            " is dead-lettered, not written; false: written, the inventory only adds floor tags"
        ),
    )
    gateway_id: str = Field(
        default="gateway-1",
        description="this replica: MQTT client id, buffer sub-folder and `instance` tag",
    )
    gateway_share_group: str = Field(
        default="",
        description=(
            "MQTT shared-subscription group that replicas split the stream in ($share/<group>/…);"
            " empty: a plain subscription, which mosquitto 2.0 keeps across a broker crash"
        ),
    )
    gateway_batch_size: int = Field(default=5000, ge=1, description="lines per batch")
    gateway_flush_interval_s: float = Field(
        default=1.0, gt=0, description="a batch is written at the latest this long after its first"
    )
    gateway_buffer_dir: Path = Field(
        default=Path("var/gateway/buffer"),
        description="disk buffer and dead letters, under `<dir>/<gateway id>/`",
    )
    gateway_max_in_flight: int = Field(default=2, ge=1, description="batches written at once")
    gateway_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve Prometheus text on this port at /metrics"
    )
    gateway_metrics_host: str = Field(
        default="127.0.0.1", description="where the metrics port listens"
    )
    gateway_buffer_max_bytes: int = Field(
        default=1024**3, ge=1_048_576, description="disk buffer bound, bytes"
    )
    gateway_session_expiry_s: int = Field(
        default=300, ge=0, description="how long the broker keeps a stopped replica's queue"
    )


class CloudSettings(
    MqttSettings,
    InfluxSettings,
    ClockSettings,
    NotificationSettings,
    RequestSettings,
    MaintenanceSettings,
    AdmissionSettings,
    FileSettings,
    ClusterSettings,
    WebhookSettings,
):
    inventory: Path = Field(
        default=Path("sites/demo.yaml"),
        description=(
            "the site inventory, or a folder of inventories (*.yaml, one site each) when one"
            " service serves several sites; site and building ids are unique across its sites"
        ),
    )
    database_url: str = Field(
        default="sqlite:///var/cloud/plantroom.sqlite",
        description="SQLAlchemy URL of the database (SQLite file or PostgreSQL)",
    )
    api_host: str = Field(default="127.0.0.1", description="where the API listens")
    api_port: int = Field(default=8000, ge=1, le=65535, description="the API's port")
    rules_dir: Path | None = Field(default=None, description="extra rule folder")
    profiles_dir: Path | None = Field(
        default=None,
        description="the site's own device-profile folder (as the edge's), besides the shipped"
        " profiles: telemetry points are checked against each equipment's profile",
    )
    demo_mode: bool = Field(
        default=False, description="create demo users and print their tokens at start"
    )
    demo_credentials_path: Path = Field(
        default=Path("var/demo/credentials.json"),
        description="where demo mode writes the demo users' tokens",
    )
    cloud_share_group: str = Field(
        default="",
        description=(
            "MQTT shared-subscription group for telemetry ($share/<group>/…) when several cloud"
            " processes split a site; empty: a plain subscription (kept across a broker crash)"
        ),
    )
    cloud_client_id: str | None = Field(
        default=None,
        description="MQTT client id; when set the broker keeps a persistent session for it",
    )
    edge_clock_behind_for_s: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="an edge agent's clock that looks behind by more than `max_clock_skew_s`"
        " is judged wrong (`edge_clock_wrong`) only once it has looked so for this long:"
        " reports replayed from an agent's buffer arrive late too, but in a burst",
    )
    live_write_interval_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="how often at most an equipment's live row (`last_values`, `last_seen`)"
        " is written when only its measurements moved; a change of state (a boolean or text"
        " point, a point appearing or unavailable), a status change or an alarm of it is"
        " written with its batch; 0: every sample's batch writes its row",
    )
    intake_lag_alarm_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="telemetry waiting in the cloud's intake longer than this raises the "
        "`telemetry_intake_behind` system alarm (cleared under half of it)",
    )
    grafana_url: str | None = Field(
        default=None, description="Grafana base URL that work-order annotations are posted to"
    )
    grafana_token: SecretStr | None = Field(
        default=None, description="Grafana service-account token for the annotations"
    )
    cloud_influx_enabled: bool = Field(
        default=True, description="write work-order events and metrics to InfluxDB"
    )
    metrics_interval_s: float = Field(
        default=60.0, gt=0, description="how often the `work_orders` metrics are written"
    )
    metrics_window_days: float = Field(
        default=30.0, gt=0, description="the jobs the metrics' rates are over"
    )
    notify_poll_interval_s: float = Field(
        default=1.0, gt=0, description="how often the receivers look for new events"
    )
    escalation_interval_s: float = Field(
        default=5.0, gt=0, description="how often the SLA ticker dispatches and escalates"
    )
    pm_dir: Path | None = Field(
        default=None, description="extra PM plan folder (plans there replace shipped ones by id)"
    )
    pm_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="how often PM plans are evaluated (the first time one interval after start)",
    )
    pm_enabled: bool = Field(default=True, description="false: raise no PM work orders")
    teams_file: Path | None = Field(
        default=None,
        description="YAML of kind of equipment → default team, for jobs whose trade has no team"
        " (docs/workorders.md), and the site's contractor teams (docs/contractors.md); none:"
        " the shipped cloud/workorders/teams.yaml",
    )
    token_ttl_days: float = Field(default=90, gt=0, description="new API tokens' lifetime")
    api_tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate (chain): with the key, the API serves HTTPS"
    )
    api_tls_key_file: Path | None = Field(default=None, description="PEM private key")
    login_free_attempts: int = Field(
        default=5,
        ge=1,
        description="failed logins per username and per address before each one more blocks",
    )
    login_max_delay_s: float = Field(
        default=900.0,
        gt=0,
        description="the longest block after failed logins (the delay doubles from 1 s up to it)",
    )
    api_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body the API reads; a larger one is answered 413 unread",
    )
    api_max_upload_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="the same for the routes that take uploads (cloud/api/limits.py)",
    )
    data_dir: Path = Field(
        default=Path("var/cloud/data"),
        description="where the cloud keeps files: job photos and signatures (by job number)",
    )
    photo_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="largest photo or signature file accepted; a larger one is answered 413",
    )


class SimSettings(MqttSettings):
    inventory: Path = Field(default=Path("sites/demo.yaml"), description="the site inventory")
    sim_control_host: str = Field(
        default="127.0.0.1", description="where the control endpoint listens"
    )
    sim_control_port: int = Field(
        default=8090, ge=1, le=65535, description="the control endpoint's port"
    )
    sim_bind_host: str | None = Field(
        default=None,
        description="listen here instead of each Modbus connection's host (e.g. 0.0.0.0)",
    )
    sim_seed: int = Field(
        default=1, description="random seed: the same seed and speed give the same behaviour"
    )
    sim_scenario: Path | None = Field(
        default=None, description="scenario file to start once serving"
    )
    sim_speed: float = Field(default=1.0, gt=0, description="simulated seconds per real second")
    sim_publish_interval_s: float = Field(
        default=1.0, gt=0, description="lighting publish interval (real seconds)"
    )


S = TypeVar("S", bound=BaseSettings)


DEFAULT_SECRETS_DIR = Path("/run/secrets")


def secrets_folder() -> Path | None:
    """Where secret files live: `PLANTROOM_SECRETS_DIR`, else /run/secrets when it exists.

    A file there named like the variable (`plantroom_mqtt_password`) fills that setting, so
    container secrets never pass through the environment. An environment variable wins.
    """
    named = os.environ.get(f"{ENV_PREFIX}SECRETS_DIR")
    if named:
        folder = Path(named)
        if not folder.is_dir():
            raise ConfigError(f"{ENV_PREFIX}SECRETS_DIR: {named!r} is not a folder")
        return folder
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build a settings object; a bad value raises ConfigError naming the variable."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    secrets_dir = secrets_folder()
    try:
        if secrets_dir is not None:
            return cls(_secrets_dir=secrets_dir, **clean)
        return cls(**clean)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            msgs.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(msgs)) from exc
