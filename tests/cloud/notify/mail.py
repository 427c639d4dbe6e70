"""A real SMTP server for the outbound-message tests (STARTTLS with a private CA, and login),
a channels file pointing at it, and what the tests read from the messages it kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from plantroom.ports import free_port
from plantroom.tls import server_context
from stack.mailbox import Mailbox
from stack.mqtt_auth import self_signed

SMTP_USER = "plantroom"
SMTP_PASSWORD = "smtp-secret-1"
LINK = re.compile(r'href="(http[^"]+/ack/[^"]+)"')


@dataclass
class Smtp:
    box: Mailbox
    channels: Path  # the notifications file

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.box.received() if address in str(m["To"])]


@contextmanager
def smtp_server(tmp: Path, monkeypatch: pytest.MonkeyPatch, *, extra: str = "") -> Iterator[Smtp]:
    """The server on a free port with STARTTLS required and one login; the process trusts its
    CA (SSL_CERT_FILE) and finds the password as a secret in the environment."""
    tls = self_signed(tmp / "smtp-tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    port = free_port()
    channels = tmp / "notifications.yaml"
    channels.write_text(
        "channels:\n"
        "  email:\n"
        f'    url: "mailtos://{SMTP_USER}:${{SMTP_PASSWORD}}@127.0.0.1:{port}'
        '?mode=starttls&from=plantroom@example.com&to={address}"\n'
        "    style: email\n" + extra,
        encoding="utf-8",
    )
    box = Mailbox(
        tmp / "mail",
        "127.0.0.1",
        port,
        tls=server_context(tls.cert, tls.key),
        logins={SMTP_USER: SMTP_PASSWORD},
    )
    with box:
        yield Smtp(box, channels)


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "no HTML part"
    text = part.get_content()
    assert isinstance(text, str)
    return text


def ack_link(message: EmailMessage) -> str:
    found = LINK.findall(html_of(message))
    assert found, "no acknowledge link in the message"
    return str(found[0]).replace("&amp;", "&")
