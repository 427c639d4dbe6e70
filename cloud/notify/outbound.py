"""Messages to people, put together from the settings: the channels, the sender, the links
and the templates, and the delivery worker that uses them (`cloud.notify.delivery`)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import tzinfo

from cloud.clock import Clock
from cloud.db import Database
from cloud.notify.channels import Channel, load_channels
from cloud.notify.delivery import Deliverer, DeliveryPolicy
from cloud.notify.links import LinkSigner
from cloud.notify.reporters import reporter_channels
from cloud.notify.sender import AppriseSender, Sender
from cloud.notify.templates import Templates
from cloud.requests.config import DeskConfig
from plantroom.errors import ConfigError
from plantroom.settings import CloudSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outbound:
    settings: CloudSettings
    channels: dict[str, Channel]
    sender: Sender
    links: LinkSigner
    templates: Templates
    deliverer: Deliverer | None = None
    desk: DeskConfig | None = None  # reporters' messages: their links and language

    @classmethod
    def from_settings(
        cls,
        settings: CloudSettings,
        *,
        timezone: tzinfo,
        api_url: str,
        desk: DeskConfig | None = None,
    ) -> Outbound:
        """ConfigError for a bad channels file, channels without a link secret outside demo
        mode (in demo mode, or with no channels, a key is made for this run), or reporters'
        channels that are not in the file. With `desk`, the delivery worker also tells the
        occupants who reported a problem."""
        channels = (
            load_channels(settings.notifications_file, default_rate=settings.notify_rate_per_minute)
            if settings.notifications_file is not None
            else {}
        )
        given = settings.notify_link_secret
        secret = given.get_secret_value() if given is not None else ""
        if not secret:
            if channels and not settings.demo_mode:
                raise ConfigError(
                    "PLANTROOM_NOTIFY_LINK_SECRET: channels are configured but no key to sign "
                    "their links with; set one (e.g. `openssl rand -hex 32`)"
                )
            secret = secrets.token_hex(32)
        reporter_channels(channels, settings.request_reporter_channels)  # names checked
        if len(secret) < 16:
            raise ConfigError("PLANTROOM_NOTIFY_LINK_SECRET: at least 16 characters")
        links = LinkSigner(
            secret,
            ttl_s=settings.notify_link_ttl_s,
            base_url=settings.notify_public_url or api_url,
        )
        return cls(
            settings=settings,
            channels=channels,
            sender=AppriseSender(timeout_s=settings.notify_send_timeout_s),
            links=links,
            templates=Templates(timezone),
            desk=desk,
        )

    def deliver(self, db: Database, clock: Clock) -> Deliverer:
        """The delivery worker (not started), kept as `self.deliverer`."""
        s = self.settings
        self.deliverer = Deliverer(
            db,
            self.channels,
            self.sender,
            templates=self.templates,
            links=self.links,
            clock=clock,
            policy=DeliveryPolicy.from_settings(s),
            interval=s.notify_delivery_interval_s,
            incident_window_s=s.notify_incident_window_s,
            desk=self.desk,
            reporter_channel_names=s.request_reporter_channels,
        )
        log.info("messages to people through: %s", ", ".join(sorted(self.channels)))
        return self.deliverer
