"""Sending one message through Apprise, and the per-channel rate limit.

`AppriseSender.send` turns a channel and an address into the Apprise URL, adds the message's
key as a header where the service takes headers (e-mail: `X-Plantroom-Message`), bounds the
connection and read timeouts, and raises `SendFailed` with Apprise's own warning when the
service refused the message or could not be reached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import apprise

from cloud.notify.channels import Channel
from cloud.notify.templates import Rendered

HEADER = "X-Plantroom-Message"
MAX_ERROR = 500


class SendFailed(Exception):
    """The channel did not take the message; the text says what it answered."""


class Sender(Protocol):
    def send(self, channel: Channel, address: str, message: Rendered, key: str) -> None: ...


class AppriseSender:
    def __init__(self, *, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def send(self, channel: Channel, address: str, message: Rendered, key: str) -> None:
        plugin = apprise.Apprise.instantiate(channel.target(address))
        if plugin is None:
            raise SendFailed(
                f"channel {channel.name}: {address!r} does not make a valid address for it"
            )
        headers = getattr(plugin, "headers", None)
        if isinstance(headers, dict):
            headers[HEADER] = key
        plugin.socket_connect_timeout = self.timeout_s
        plugin.socket_read_timeout = self.timeout_s
        body_format = apprise.NotifyFormat.HTML if message.html else apprise.NotifyFormat.MARKDOWN
        if channel.style.value == "sms":
            body_format = apprise.NotifyFormat.TEXT
        sender = apprise.Apprise()
        sender.add(plugin)
        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = sender.notify(body=message.body, title=message.title, body_format=body_format)
            said = captured.getvalue().strip()
        if not ok:
            lines = [line for line in said.splitlines() if line.strip()]
            why = " | ".join(lines[-3:]) or "the service did not accept it"
            raise SendFailed(f"channel {channel.name}: {why}"[:MAX_ERROR])


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens a second up to `burst`; `take(now)` spends one if there is one."""

    rate: float
    burst: int
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.at = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self) -> float:
        """Seconds until the next token."""
        return max(0.0, (1.0 - self.tokens) / self.rate)
