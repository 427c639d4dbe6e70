"""What the notifier is configured with, read once from the settings and validated.

The settings (PLANTROOM_WEBHOOK_URLS, PLANTROOM_WEBHOOK_SECRET, …) and their defaults are
declared in `plantroom.settings.CloudSettings`; this adds the checks that span settings (a
secret with webhooks) and the URLs' shape.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from plantroom.errors import ConfigError
from plantroom.settings import CloudSettings

log = logging.getLogger(__name__)


def _secret(value: SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() or None


def _urls(items: Iterable[str]) -> tuple[str, ...]:
    urls = []
    for item in items:
        for url in str(item).split(","):
            url = url.strip()
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"PLANTROOM_WEBHOOK_URLS: {url!r} is not an http(s) URL")
            urls.append(url)
    return tuple(urls)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    site: str
    webhook_urls: tuple[str, ...]
    webhook_secret: str | None
    webhook_timeout_s: float
    webhook_max_attempts: int
    webhook_queue_size: int
    grafana_url: str | None
    grafana_token: str | None
    influx_enabled: bool
    influx_url: str
    influx_database: str
    influx_retention_policy: str | None
    influx_username: str | None
    influx_password: str | None
    influx_token: str | None
    influx_create_database: bool
    metrics_interval_s: float
    metrics_window_days: float
    poll_interval_s: float

    @classmethod
    def from_settings(cls, settings: CloudSettings, *, site: str) -> NotifyConfig:
        """Raises ConfigError for a bad URL, or for webhooks without a secret outside demo
        mode (in demo mode a random secret is made for the run)."""
        urls = _urls(settings.webhook_urls)
        secret = _secret(settings.webhook_secret)
        if urls and secret is None:
            if not settings.demo_mode:
                raise ConfigError(
                    "PLANTROOM_WEBHOOK_SECRET: webhooks are configured but no secret to sign "
                    "them with; set one (e.g. `openssl rand -hex 32`)"
                )
            secret = secrets.token_hex(32)
            log.warning("demo mode: webhooks signed with a secret made for this run only")
        grafana_url = settings.grafana_url or None
        if grafana_url is not None:
            parts = urlsplit(grafana_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"PLANTROOM_GRAFANA_URL: {grafana_url!r} is not an http(s) URL")
        return cls(
            site=site,
            webhook_urls=urls,
            webhook_secret=secret,
            webhook_timeout_s=settings.webhook_timeout_s,
            webhook_max_attempts=settings.webhook_max_attempts,
            webhook_queue_size=settings.webhook_queue_size,
            grafana_url=grafana_url,
            grafana_token=_secret(settings.grafana_token),
            influx_enabled=settings.cloud_influx_enabled,
            influx_url=settings.influx_url.rstrip("/"),
            influx_database=settings.influx_database,
            influx_retention_policy=settings.influx_retention_policy,
            influx_username=settings.influx_username,
            influx_password=_secret(settings.influx_password),
            influx_token=_secret(settings.influx_token),
            influx_create_database=settings.influx_create_database,
            metrics_interval_s=settings.metrics_interval_s,
            metrics_window_days=settings.metrics_window_days,
            poll_interval_s=settings.notify_poll_interval_s,
        )
