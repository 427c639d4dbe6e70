"""The cloud's settings for messages to people (`cloud.notify`): channels, links, delivery.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_NOTIFY_*` and `PLANTROOM_NOTIFICATIONS_FILE`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from plantroom.settingtypes import SettingsGroup


class NotificationSettings(SettingsGroup):
    notifications_file: Path | None = Field(
        default=None,
        description="the channels YAML (e-mail, chat, SMS; docs/notifications.md); none: "
        "people are told in the console's inbox only",
    )
    notify_link_secret: SecretStr | None = Field(
        default=None,
        description="key the acknowledge links in messages are signed with; required with "
        "channels outside demo mode",
    )
    notify_link_ttl_s: float = Field(
        default=86_400.0, gt=0, le=7 * 86_400, description="how long a message's link works"
    )
    notify_public_url: str | None = Field(
        default=None,
        description="the service's address as people's phones reach it, for links; none: "
        "the API's own address",
    )
    notify_delivery_interval_s: float = Field(
        default=0.25, gt=0, le=60, description="how often the outbox is looked at"
    )
    notify_send_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="longest one send may take (SMTP, HTTP)"
    )
    notify_max_attempts: int = Field(
        default=8, ge=1, le=100, description="sends tried per message before it is failed"
    )
    notify_failover_after: int = Field(
        default=3,
        ge=1,
        le=50,
        description="consecutive failures on one contact point before the message falls to "
        "the person's next one (and a system alarm is raised)",
    )
    notify_retry_first_s: float = Field(
        default=2.0, gt=0, description="first retry delay (jittered, doubling)"
    )
    notify_retry_max_s: float = Field(default=300.0, gt=0, description="longest retry delay")
    notify_rate_per_minute: float = Field(
        default=120.0,
        gt=0,
        le=100_000,
        description="messages per minute per channel (token bucket) unless the channel sets "
        "its own",
    )
    notify_incident_window_s: float = Field(
        default=3.0,
        ge=0,
        le=300,
        description="how long messages about one incident wait to be sent as one",
    )
    notify_code_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        le=86_400,
        description="how long the code a 'send me a test' message carries can verify the "
        "contact point",
    )
    notify_code_max_tries: int = Field(
        default=5,
        ge=1,
        le=20,
        description="wrong codes allowed per test message; then the code is void and a new "
        "test must be asked for",
    )
