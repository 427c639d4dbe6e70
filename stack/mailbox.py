"""A real SMTP server that keeps what it receives: the demo's mail server, and the tests'.

    with Mailbox(Path("var/demo/mail"), "127.0.0.1", 8025) as box:
        ...                         # every message saved as <n>-<time>.eml in the folder
        box.messages                # and parsed, in arrival order

It is aiosmtpd on its own thread. With `tls` (a certificate and key) it offers STARTTLS and
requires it before AUTH; with `logins` it requires AUTH (PLAIN or LOGIN) before MAIL.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_KEPT = 10_000  # messages kept in memory; the files stay


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self._box = box

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self._box.keep(raw)
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(
        self,
        folder: Path | None,
        host: str = "127.0.0.1",
        port: int = 8025,
        *,
        tls: ssl.SSLContext | None = None,
        logins: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._count = 0
        self._running = False
        self._logins = dict(logins or {})
        kwargs: dict[str, Any] = {"data_size_limit": MAX_MESSAGE_BYTES}
        if tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if logins:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=tls is not None,
            )
        self._controller = Controller(_Handler(self), hostname=host, port=port, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self._logins.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def keep(self, raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._count += 1
            n = self._count
            if len(self.messages) < MAX_KEPT:
                self.messages.append(message)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%S")
            path = self.folder / f"{n:06d}-{stamp}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(raw)
            tmp.replace(path)

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def start(self) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._count = len(list(self.folder.glob("*.eml")))
        self._controller.start()
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
