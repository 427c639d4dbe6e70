"""`plantroom cloud`: the API and the telemetry consumer in one process, served by uvicorn.

On SIGINT or SIGTERM the server stops accepting requests and runs the lifespan's shutdown,
which drains the telemetry queue and closes the database; the process then exits normally.

With `PLANTROOM_API_TLS_CERT_FILE` and `PLANTROOM_API_TLS_KEY_FILE` set the API is served
over HTTPS only; the pair is loaded once before listening, so a wrong path, an unreadable
file or a key that does not match the certificate stops the start with a ConfigError.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from cloud.app import create_app
from cloud.sitecheck import startup_findings
from cloud.state import AppState
from plantroom.errors import ConfigError, ServiceError
from plantroom.ports import ensure_port_free
from plantroom.settings import CloudSettings
from plantroom.sitecheck import enforce
from plantroom.tls import server_context

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop signal ends in a normal return after the graceful
    shutdown rather than being raised again (which would end the process by the signal, or
    with a KeyboardInterrupt traceback)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def tls_files(settings: CloudSettings) -> tuple[str, str] | None:
    """The certificate and key the API serves HTTPS with, or None for plain HTTP. Both or
    neither must be set, and they must load as a pair."""
    cert, key = settings.api_tls_cert_file, settings.api_tls_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = (
            ("PLANTROOM_API_TLS_KEY_FILE", "PLANTROOM_API_TLS_CERT_FILE")
            if cert is None
            else ("PLANTROOM_API_TLS_CERT_FILE", "PLANTROOM_API_TLS_KEY_FILE")
        )
        raise ConfigError(f"{given} is set but {missing} is not: HTTPS needs both")
    # uvicorn builds its own context from the files; loading them here fails before listening
    server_context(
        cert,
        key,
        cert_setting="PLANTROOM_API_TLS_CERT_FILE",
        key_setting="PLANTROOM_API_TLS_KEY_FILE",
    )
    return str(cert), str(key)


def run(settings: CloudSettings) -> None:
    """Serve until SIGINT/SIGTERM. Raises PortInUseError if the API port is taken, and
    ConfigError for a bad inventory, rule file or database URL, before listening."""
    ensure_port_free("cloud API", settings.api_host, settings.api_port)
    enforce(startup_findings(settings), log)
    tls = tls_files(settings)
    # httpx logs every request's URL at INFO, and InfluxDB 1.x credentials travel in the
    # query string (`?u=…&p=…`): its request log stays off, whatever the root level.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        lifespan="on",
        access_log=False,
        server_header=False,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    scheme = "https" if tls else "http"
    log.info("cloud API on %s://%s:%d", scheme, settings.api_host, settings.api_port)
    server = _Server(config)
    state: AppState = app.state.cloud
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when the lifespan or the bind fails
        if state.startup_error is not None:
            raise state.startup_error from None
        raise ServiceError(
            f"the cloud service did not start on {settings.api_host}:{settings.api_port}; "
            "see the log above for why"
        ) from exc
