"""The cloud's settings for webhooks (`cloud.notify.webhooks`): every work-order event posted,
signed, to the receivers an operator names.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_WEBHOOK_*`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from plantroom.settingtypes import SettingsGroup, TextList


class WebhookSettings(SettingsGroup):
    webhook_urls: TextList = Field(
        default_factory=list,
        description="http(s) URLs every work-order event is posted to (comma-separated)",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key the webhooks are signed with; required with webhooks outside "
        "demo mode",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, description="per webhook (and Grafana) request"
    )
    webhook_max_attempts: int = Field(
        default=6, ge=1, description="deliveries tried per event and receiver"
    )
    webhook_queue_size: int = Field(
        default=1000, ge=1, description="events held in memory per receiver"
    )
