"""A small asyncio Modbus server: one listening port (or serial line), many unit ids.

Function codes 1, 2, 3, 4 (reads), 5, 6, 15, 16 (writes). Exception responses follow the
Modbus application protocol: 01 illegal function, 02 illegal data address, 03 illegal data
value, 04 server device failure, 0x0B gateway target device failed to respond (a unit id
nobody answers to, Modbus TCP only: on an RTU line nobody answers). Requests on one
connection are answered in order, so clients may pipeline. A malformed MBAP frame closes its
connection and nothing else; a corrupt RTU frame is ignored, as a device on a line would.

The server knows nothing of equipment: each unit id maps to a `ModbusUnit` that answers
reads and writes from its tables and says whether, and how soon, it answers at all. Each
connection is an `asyncio.Protocol` that answers every complete request in its buffer at
once, so one process keeps up with many connections and pipelined polls.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import struct
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, IntEnum
from typing import Protocol, cast

from plantroom.errors import PortInUseError
from simulators.errors import SimulatorError
from simulators.framing import FRAMERS, Framer, MalformedFrame, Request
from simulators.registers import Table

log = logging.getLogger(__name__)

MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_WRITE_BITS = 1968
SILENCE_S = 0.05  # a pause this long ends an RTU frame of a function we cannot size
MAX_BUFFERED = 64 * 1024  # request bytes held per connection while an answer waits


class ExceptionCode(IntEnum):
    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    GATEWAY_TARGET_FAILED = 0x0B


class ModbusError(Exception):
    """Raised by a unit (or the PDU decoder) to answer with a Modbus exception."""

    def __init__(self, code: ExceptionCode, reason: str = "") -> None:
        super().__init__(f"{code.name}: {reason}" if reason else code.name)
        self.code = code


class Answer(Enum):
    NORMAL = "normal"
    SILENT = "silent"  # send nothing back (the device does not respond)
    DEVICE_FAILURE = "device_failure"  # answer every request with exception 04
    GARBAGE = "garbage"  # answer with malformed frames


class ModbusUnit(Protocol):
    """What the server needs from a device behind one unit id."""

    def answer(self) -> Answer: ...

    def delay(self) -> float:
        """Real seconds to wait before answering (0 for a healthy unit)."""
        ...

    def read_bits(self, table: Table, address: int, count: int) -> Sequence[bool]: ...

    def read_registers(self, table: Table, address: int, count: int) -> Sequence[int]: ...

    def write_bits(self, address: int, values: Sequence[bool]) -> None: ...

    def write_registers(self, address: int, values: Sequence[int]) -> None: ...


def exception_pdu(function: int, code: ExceptionCode) -> bytes:
    return bytes(((function | 0x80) & 0xFF, code))


def _pack_bits(bits: Sequence[bool]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _unpack_bits(data: bytes, count: int) -> list[bool]:
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


def _check_span(address: int, count: int) -> None:
    if address + count > 0x10000:
        raise ModbusError(ExceptionCode.ILLEGAL_DATA_ADDRESS, "request runs past address 65535")


def _address_count(pdu: bytes) -> tuple[int, int]:
    if len(pdu) != 5:
        raise MalformedFrame(f"function {pdu[0]} needs a 5-byte PDU, got {len(pdu)}")
    address, count = struct.unpack(">HH", pdu[1:5])
    return address, count


_READ_TABLES = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}


def _read(unit: ModbusUnit, pdu: bytes) -> bytes:
    fc = pdu[0]
    address, count = _address_count(pdu)
    table = _READ_TABLES[fc]
    bits = fc in (1, 2)
    limit = MAX_READ_BITS if bits else MAX_READ_REGISTERS
    if not 1 <= count <= limit:
        raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"quantity {count} not in 1..{limit}")
    _check_span(address, count)
    if bits:
        data = _pack_bits(unit.read_bits(table, address, count))
    else:
        words = unit.read_registers(table, address, count)
        data = struct.pack(f">{len(words)}H", *words)
    return bytes((fc, len(data))) + data


def _write_single_coil(unit: ModbusUnit, pdu: bytes) -> bytes:
    address, value = _address_count(pdu)
    if value not in (0x0000, 0xFF00):
        raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"coil value 0x{value:04X}")
    unit.write_bits(address, [value == 0xFF00])
    return pdu


def _write_single_register(unit: ModbusUnit, pdu: bytes) -> bytes:
    address, value = _address_count(pdu)
    unit.write_registers(address, [value])
    return pdu


def _write_multiple(unit: ModbusUnit, pdu: bytes) -> bytes:
    fc = pdu[0]
    if len(pdu) < 6:
        raise MalformedFrame(f"function {fc} PDU too short ({len(pdu)} bytes)")
    address, count, byte_count = struct.unpack(">HHB", pdu[1:6])
    data = pdu[6:]
    if len(data) != byte_count:
        raise MalformedFrame(f"byte count {byte_count} but {len(data)} data bytes")
    if fc == 15:
        if not 1 <= count <= MAX_WRITE_BITS or byte_count != (count + 7) // 8:
            raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"coil quantity {count}")
        _check_span(address, count)
        unit.write_bits(address, _unpack_bits(data, count))
    else:
        if not 1 <= count <= MAX_WRITE_REGISTERS or byte_count != 2 * count:
            raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"register quantity {count}")
        _check_span(address, count)
        unit.write_registers(address, list(struct.unpack(f">{count}H", data)))
    return pdu[:5]


HANDLERS: dict[int, Callable[[ModbusUnit, bytes], bytes]] = {
    1: _read,
    2: _read,
    3: _read,
    4: _read,
    5: _write_single_coil,
    6: _write_single_register,
    15: _write_multiple,
    16: _write_multiple,
}


def handle_pdu(units: Mapping[int, ModbusUnit], unit_id: int, pdu: bytes) -> bytes | None:
    """Answer one request PDU; None means send nothing. Raises MalformedFrame."""
    if not pdu:
        raise MalformedFrame("empty PDU")
    fc = pdu[0]
    unit = units.get(unit_id)
    if unit is None:
        return exception_pdu(fc, ExceptionCode.GATEWAY_TARGET_FAILED)
    answer = unit.answer()
    if answer is Answer.SILENT:
        return None
    handler = HANDLERS.get(fc)
    if handler is None:
        return exception_pdu(fc, ExceptionCode.ILLEGAL_FUNCTION)
    if answer is Answer.DEVICE_FAILURE:
        return exception_pdu(fc, ExceptionCode.SERVER_DEVICE_FAILURE)
    try:
        return handler(unit, pdu)
    except ModbusError as exc:
        log.debug("unit %d function %d: %s", unit_id, fc, exc)
        return exception_pdu(fc, exc.code)
    except MalformedFrame:
        raise
    except Exception:  # a failing device answers 04; the server carries on
        log.exception("unit %d function %d failed", unit_id, fc)
        return exception_pdu(fc, ExceptionCode.SERVER_DEVICE_FAILURE)


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
