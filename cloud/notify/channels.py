"""The site's channels for messages to people, from `notifications.yaml`, sent through Apprise.

    channels:
      email:                              # a name contact points refer to
        url: "mailtos://plantroom:${SMTP_PASSWORD}@mail.example.com:587?mode=starttls&from=plantroom@example.com&to={address}"
        style: email                      # which template: email (HTML), chat (markdown), sms
        rate_per_minute: 60               # token bucket; default PLANTROOM_NOTIFY_RATE_PER_MINUTE
      wecom:
        url: "wecombot://{address}"       # the address is the group bot's key
        style: chat

`url` is an Apprise URL (https://github.com/caronc/apprise/wiki) with `{address}` where the
contact point's address goes (quoted for a URL). `${NAME}` is a secret: the environment
variable NAME, else the file `name` (lower case) in the secrets folder (PLANTROOM_SECRETS_DIR
or /run/secrets), so no password needs to be in the file. A bad file fails at start with its
line; a secret that is not set fails naming the channel and the secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit

from apprise.manager_plugins import NotificationManager
from pydantic import BaseModel, ConfigDict, Field, field_validator

from plantroom.errors import ConfigError
from plantroom.settings import secrets_folder
from plantroom.yamlload import validate_file

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
ADDRESS = "{address}"
MAX_CHANNELS = 32


class Style(StrEnum):
    """Which template a channel's messages use."""

    EMAIL = "email"  # subject, HTML body (Apprise adds the text part)
    CHAT = "chat"  # markdown
    SMS = "sms"  # one short line


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=4, max_length=2048)
    style: Style = Style.CHAT
    rate_per_minute: float | None = Field(default=None, gt=0, le=100_000)
    burst: int = Field(default=10, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, url: str) -> str:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in _schemas():
            raise ValueError(f"{scheme or url!r} is not a channel Apprise knows (see its wiki)")
        if ADDRESS not in url:
            raise ValueError("the URL has no {address} for the contact point's address")
        return url


class ChannelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[str, ChannelSpec] = Field(max_length=MAX_CHANNELS)

    @field_validator("channels")
    @classmethod
    def _names(cls, channels: dict[str, ChannelSpec]) -> dict[str, ChannelSpec]:
        for name in channels:
            if not NAME.match(name):
                raise ValueError(f"channel name {name!r}: lower-case letters, digits, - and _")
        return channels


@dataclass(frozen=True, slots=True)
class Channel:
    """One configured channel, its secrets filled in."""

    name: str
    url: str
    style: Style
    rate_per_minute: float
    burst: int

    def target(self, address: str) -> str:
        """The Apprise URL that reaches `address`."""
        return self.url.replace(ADDRESS, quote(address, safe="@+/:"))


_SCHEMAS: set[str] = set()


def _schemas() -> set[str]:
    if not _SCHEMAS:
        manager = NotificationManager()  # type: ignore[no-untyped-call]
        _SCHEMAS.update(s.lower() for s in manager.schemas())  # type: ignore[no-untyped-call]
    return _SCHEMAS


def _secret(name: str, channel: str, path: Path) -> str:
    value = os.environ.get(name)
    if value:
        return value
    folder = secrets_folder()
    file = folder / name.lower() if folder is not None else None
    if file is not None and file.is_file():
        return file.read_text(encoding="utf-8").strip()
    where = f" or the file {file}" if file is not None else ""
    raise ConfigError(
        f"{path}: channels.{channel}.url: secret ${{{name}}} is not set "
        f"(environment variable {name}{where})"
    )


def load_channels(path: Path, *, default_rate: float) -> dict[str, Channel]:
    """The channels of `path`; ConfigError naming the line or the secret that is wrong."""
    if not path.is_file():
        raise ConfigError(f"PLANTROOM_NOTIFICATIONS_FILE: {path} is not a file")
    spec = validate_file(ChannelsFile, path)
    out = {}
    for name, c in spec.channels.items():

        def fill(found: re.Match[str], channel: str = name) -> str:
            return quote(_secret(found.group(1), channel, path), safe="")

        url = SECRET.sub(fill, c.url)
        out[name] = Channel(name, url, c.style, c.rate_per_minute or default_rate, c.burst)
    return out
