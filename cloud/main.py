"""`plantroom cloud`: the API and the telemetry consumer in one process, served by uvicorn.

On SIGINT or SIGTERM the server stops accepting requests and runs the lifespan's shutdown,
which drains the telemetry queue and closes the database; the process then exits normally.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from cloud.app import create_app
from cloud.state import AppState
from plantroom.errors import ServiceError
from plantroom.services import ensure_port_free
from plantroom.settings import CloudSettings

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


def run(settings: CloudSettings) -> None:
    """Serve until SIGINT/SIGTERM. Raises PortInUseError if the API port is taken, and
    ConfigError for a bad inventory, rule file or database URL, before listening."""
    ensure_port_free("cloud API", settings.api_host, settings.api_port)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        lifespan="on",
        access_log=False,
        server_header=False,
    )
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
