"""A minimal HTTP endpoint serving the gateway's counters to Prometheus at `GET /metrics`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 8192
READ_TIMEOUT_S = 5.0


def _response(status: str, body: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
    data = body.encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


async def serve_metrics(render: Callable[[], str], host: str, port: int) -> None:
    """Serve `render()` at /metrics until cancelled."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            request = head[:MAX_REQUEST_BYTES].split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(request) >= 2 and request[0] in ("GET", "HEAD"):
                path = request[1].split("?", 1)[0]
                if path == "/metrics":
                    resp = _response("200 OK", render(), "text/plain; version=0.0.4; charset=utf-8")
                else:
                    resp = _response("404 Not Found", "only /metrics is served here\n")
            else:
                resp = _response("405 Method Not Allowed", "use GET /metrics\n")
            writer.write(resp)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port, limit=MAX_REQUEST_BYTES)
    log.info("serving metrics on http://%s:%d/metrics", host, port)
    async with server:
        await server.serve_forever()
