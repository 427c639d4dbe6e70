"""A small asyncio Modbus server: one listening port (or serial line), many unit ids.

Function codes 1, 2, 3, 4 (reads), 5, 6, 15, 16 (writes). Exception responses follow the
Modbus application protocol: 01 illegal function, 02 illegal data address, 03 illegal data
value, 04 server device failure, 0x0B gateway target device failed to respond (a unit id
nobody answers to, Modbus TCP only: on an RTU line nobody answers). Requests on one
connection are answered in order, so clients may pipeline. A malformed MBAP frame closes its
connection and nothing else; a corrupt RTU frame is ignored, as a device on a line would.

The server knows nothing of equipment: each unit id maps to a `ModbusUnit`, and the PDUs
are answered by `simulators.pdu` (function codes and exception responses are there). Each
connection is an `asyncio.Protocol` that answers every complete request in its buffer at
once, so one process keeps up with many connections and pipelined polls.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
from collections.abc import Callable, Mapping
from typing import Protocol, cast

from plantroom.errors import PortInUseError
from simulators.errors import SimulatorError
from simulators.framing import FRAMERS, Framer, MalformedFrame, Request
from simulators.pdu import Answer, ModbusUnit, handle_pdu

log = logging.getLogger(__name__)

SILENCE_S = 0.05  # a pause this long ends an RTU frame of a function we cannot size
MAX_BUFFERED = 64 * 1024  # request bytes held per connection while an answer waits


class Link(Protocol):
    """The byte pipe a connection answers on: a TCP transport or a serial line."""

    def write(self, data: bytes) -> None: ...

    def abort(self) -> None: ...


class ModbusService:
    """What every Modbus endpoint shares: its units, its framing, its gateway faults, counters.

    `delay` (the gateway-level `slow` fault) holds every answer back that many real seconds.
    """

    def __init__(self, name: str, units: Mapping[int, ModbusUnit], framing: str) -> None:
        if framing not in FRAMERS:
            raise ValueError(f"unknown Modbus framing {framing!r}; known: {', '.join(FRAMERS)}")
        self.name = name
        self.units = units
        self.framer: Framer = FRAMERS[framing]()
        self.delay = 0.0
        self.requests = 0
        self.answered = 0
        self.malformed = 0
        self.discarded = 0
        self._garbage_turn = 0
        self._rng = random.Random(f"garbage:{name}")

    @property
    def framing(self) -> str:
        return self.framer.name

    def delay_for(self, request: Request) -> float:
        unit = self.units.get(request.unit)
        return self.delay + (unit.delay() if unit is not None else 0.0)

    def respond(self, request: Request) -> bytes | None:
        """The bytes to send back for one request, or None to stay silent."""
        self.requests += 1
        unit = self.units.get(request.unit)
        if unit is None and not self.framer.gateway_exceptions:
            return None
        pdu = handle_pdu(self.units, request.unit, request.pdu)
        if pdu is None:
            return None
        self.answered += 1
        if unit is not None and unit.answer() is Answer.GARBAGE:
            self._garbage_turn += 1
            return self.framer.garbage(request, pdu, self._garbage_turn - 1, self._rng)
        return self.framer.reply(request, pdu)


class ModbusConnection(asyncio.Protocol):
    """One client connection (or one serial line): cuts requests, answers them in order."""

    def __init__(
        self,
        service: ModbusService,
        peer: str = "",
        admit: Callable[[ModbusConnection], bool] | None = None,
    ) -> None:
        self.service = service
        self.peer = peer
        self.admit = admit
        self.link: Link | None = None
        self.buffer = bytearray()
        self.last_activity = 0.0
        self.on_close: Callable[[ModbusConnection], None] | None = None
        self._loop = asyncio.get_running_loop()
        self._held: asyncio.TimerHandle | None = None  # a slow answer in waiting
        self._silence: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._closed = False
        self._paused: set[str] = set()  # why reading is paused: "writing", "buffer"

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.admit is not None and not self.admit(self):
            self._closed = True
            transport.close()
            return
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.attach(self._transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        for handle in (self._held, self._silence):
            if handle is not None:
                handle.cancel()
        self._held = self._silence = None
        if self.on_close is not None:
            self.on_close(self)

    def pause_writing(self) -> None:  # the client does not read its answers: stop reading
        self._pause("writing")

    def resume_writing(self) -> None:
        self._resume("writing")

    def _pause(self, reason: str) -> None:
        if not self._paused and self._transport is not None and not self._closed:
            self._transport.pause_reading()
        self._paused.add(reason)

    def _resume(self, reason: str) -> None:
        self._paused.discard(reason)
        if not self._paused and self._transport is not None and not self._closed:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if len(self.buffer) + len(data) > MAX_BUFFERED and self._transport is None:
            self.service.discarded += 1  # a serial line cannot be paused: drop the excess
            return
        self.buffer += data
        self.last_activity = self._loop.time()
        self._process()
        if len(self.buffer) > MAX_BUFFERED:
            self._pause("buffer")  # requests pile up behind a slow answer

    # -- the conversation --------------------------------------------------------------
    def attach(self, link: Link) -> None:
        self.link = link
        self.last_activity = self._loop.time()

    def abort(self) -> None:
        if self.link is not None and not self._closed:
            self.link.abort()

    def _process(self) -> None:
        framer = self.service.framer
        while self._held is None and not self._closed and self.buffer:
            try:
                request, used = framer.split(self.buffer)
            except MalformedFrame as exc:
                self._malformed(str(exc))
                return
            if used:
                del self.buffer[:used]
            if request is None:
                if used:
                    self.service.discarded += 1
                    continue
                self._wait_for_silence()
                return
            self._handle(request)
        if self._silence is not None and not self.buffer:
            self._silence.cancel()
            self._silence = None

    def _wait_for_silence(self) -> None:
        if self.service.framer.close_on_malformed:
            return  # MBAP frames announce their length: just wait for the rest
        if self._silence is not None:
            self._silence.cancel()
        self._silence = self._loop.call_later(SILENCE_S, self._silent)

    def _silent(self) -> None:
        self._silence = None
        if not self.buffer or self._held is not None:
            return
        request = self.service.framer.flush(self.buffer)
        self.buffer.clear()
        if request is None:
            self.service.discarded += 1
            return
        self._handle(request)
        self._process()

    def _handle(self, request: Request) -> None:
        delay = self.service.delay_for(request)
        if delay > 0:
            self._held = self._loop.call_later(delay, self._release, request)
            return
        self._answer(request)

    def _release(self, request: Request) -> None:
        self._held = None
        if self._closed:
            return
        self._answer(request)
        self._process()
        if "buffer" in self._paused and len(self.buffer) <= MAX_BUFFERED // 2:
            self._resume("buffer")

    def _answer(self, request: Request) -> None:
        try:
            data = self.service.respond(request)
        except MalformedFrame as exc:
            self._malformed(str(exc))
            return
        if data is not None and self.link is not None and not self._closed:
            self.link.write(data)

    def _malformed(self, reason: str) -> None:
        self.service.malformed += 1
        self.buffer.clear()
        if self.service.framer.close_on_malformed:
            log.debug("Modbus %s: %s from %s; closing", self.service.name, reason, self.peer)
            self.abort()
        else:
            self.service.discarded += 1
            log.debug("Modbus %s: %s; ignored", self.service.name, reason)


class ModbusTcpServer(ModbusService):
    """Serves a set of units on one host:port until closed, MBAP or RTU framed.

    `set_closed(True)` (the `port_closed` gateway fault) stops listening and drops every
    connection at once; `set_closed(False)` has `serve()` listen again.
    """

    def __init__(
        self,
        host: str,
        port: int,
        units: Mapping[int, ModbusUnit],
        *,
        framing: str = "mbap",
        max_connections: int = 256,
        idle_timeout: float = 300.0,
        bind_host: str | None = None,
    ) -> None:
        super().__init__(f"{host}:{port}", units, framing)
        self.host = host
        self.port = port
        self.bind_host = bind_host or host
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.closed = False  # the port_closed fault
        self._server: asyncio.Server | None = None
        self._connections: set[ModbusConnection] = set()
        self._refused_logged = False
        self._wake: asyncio.Event | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._connections)

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Bind and listen. PortInUseError when the port is taken."""
        if self._server is not None or self.closed:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._connection, self.bind_host, self.port, reuse_address=True, backlog=512
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError("Modbus simulator", self.bind_host, self.port) from exc
            raise SimulatorError(
                f"cannot listen for Modbus on {self.bind_host}:{self.port}: {exc.strerror or exc}"
            ) from exc

    def _connection(self) -> ModbusConnection:
        conn = ModbusConnection(self, admit=self.admit)
        conn.on_close = self._connections.discard
        return conn

    def admit(self, conn: ModbusConnection) -> bool:
        if len(self._connections) >= self.max_connections:
            if not self._refused_logged:
                log.warning(
                    "Modbus %s: %d connections open, refusing more",
                    self.address,
                    len(self._connections),
                )
                self._refused_logged = True
            return False
        self._connections.add(conn)
        return True

    def set_closed(self, closed: bool) -> None:
        """Close the port and drop its connections now, or have it listen again."""
        self.closed = closed
        if closed:
            self._stop_listening()
            log.info("Modbus %s: port closed (fault)", self.address)
        if self._wake is not None:
            self._wake.set()

    def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()

    async def serve(self) -> None:
        """Run until cancelled: reopen after `port_closed` clears, drop idle connections."""
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        backoff = 0.1
        try:
            await self.start()
            while True:
                sweep = min(self.idle_timeout / 4, 30.0)
                if not self.closed and self._server is None:
                    sweep = backoff
                try:
                    async with asyncio.timeout(sweep):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                if not self.closed and self._server is None:
                    try:
                        await self.start()
                        backoff = 0.1
                        log.info("Modbus %s: listening again", self.address)
                    except (PortInUseError, SimulatorError) as exc:
                        log.warning("Modbus %s: cannot reopen yet: %s", self.address, exc)
                        backoff = min(backoff * 2, 5.0)
                self._drop_idle(loop.time())
        finally:
            self._wake = None
            await self.close()

    def _drop_idle(self, now: float) -> None:
        for conn in list(self._connections):
            if now - conn.last_activity > self.idle_timeout:
                log.debug("Modbus %s: dropping idle connection %s", self.address, conn.peer)
                conn.abort()

    async def close(self) -> None:
        server = self._server
        self._stop_listening()
        if server is not None:
            await server.wait_closed()
        await asyncio.sleep(0)  # let the aborted transports finish their callbacks

    async def __aenter__(self) -> ModbusTcpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
