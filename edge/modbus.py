"""Modbus: one hub per physical connection, and the devices that read through it.

A Modbus TCP gateway (host:port) or an RS-485 line is one `ModbusHub`: one pymodbus client,
one lock, an inter-frame delay. Devices (unit ids) share their hub; points never call the
client. Every pymodbus error is translated here, once, into `edge.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import random
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from edge.decode import Value
from edge.decode_blocks import BlockDecoder
from edge.decode_derived import DerivedValues
from edge.errors import DeviceError, DeviceExceptionResponse, DeviceTimeout, DeviceUnreachable
from edge.planner import ReadBlock, plan_reads
from plantroom.backoff import backoff_delay
from plantroom.errors import ConfigError
from plantroom.inventory import ModbusRtu, ModbusRtuOverTcp, ModbusTcp
from plantroom.profiles import ModbusPoint, ModbusProfile, Table
from plantroom.schema import Quality

log = logging.getLogger(__name__)

ModbusConnection = ModbusTcp | ModbusRtuOverTcp | ModbusRtu
CompiledPlan = list[tuple[ReadBlock, BlockDecoder]]

# What opening a serial port can raise through pymodbus: a port that refuses its settings
# (parity on a pty, say) raises termios.error; pyserial's SerialException is an OSError.
SERIAL_OPEN_ERRORS: tuple[type[Exception], ...] = (termios.error, OSError)


@dataclass(frozen=True, slots=True)
class HubKey:
    """What makes two devices share one physical connection."""

    transport: str
    address: str

    @classmethod
    def of(cls, conn: ModbusConnection) -> HubKey:
        if isinstance(conn, ModbusRtu):
            return cls(conn.type, conn.device)
        return cls(conn.type, f"{conn.host}:{conn.port}")

    def __str__(self) -> str:
        return f"{self.transport}://{self.address}"


def _describe(exc: BaseException) -> str:
    """`termios.error(22, 'Invalid argument')` → `invalid argument`."""
    args = exc.args
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1].lower()
    return (str(exc) or type(exc).__name__).lower()


class ModbusHub:
    """One physical connection shared by the devices behind it.

    Requests are serialised by a lock with at least `inter_frame_delay` seconds between the
    end of one exchange and the start of the next. A failed connect is retried on the next
    request after a jittered exponential backoff; until then requests fail fast with the
    reason of the last failure, so a dead gateway costs no time per poll.
    """

    def __init__(
        self,
        conn: ModbusConnection,
        *,
        timeout: float,
        inter_frame_delay: float = 0.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        link_reset_after: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        self.key = HubKey.of(conn)
        self._conn = conn
        self._timeout = timeout
        self._delay = inter_frame_delay
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._link_reset_after = link_reset_after
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._client: Any = self._make_client()
        self._last_frame = 0.0
        self._connect_failures = 0
        self._retry_at = 0.0
        self._last_reason: DeviceError | None = None
        self._timeouts_in_row = 0
        self.requests = 0
        self.connects = 0

    def _make_client(self) -> Any:
        conn = self._conn
        common: dict[str, Any] = {
            "timeout": self._timeout,
            "retries": 0,
            "reconnect_delay": 0,
            "name": str(HubKey.of(conn)),
        }
        if isinstance(conn, ModbusRtu):
            if importlib.util.find_spec("serial") is None:
                raise ConfigError(
                    f"Modbus RTU on {conn.device} needs the pyserial package (pip install pyserial)"
                )
            return AsyncModbusSerialClient(
                conn.device,
                framer=FramerType.RTU,
                baudrate=conn.baudrate,
                bytesize=conn.bytesize,
                parity=conn.parity,
                stopbits=conn.stopbits,
                **common,
            )
        framer = FramerType.RTU if isinstance(conn, ModbusRtuOverTcp) else FramerType.SOCKET
        client = AsyncModbusTcpClient(conn.host, port=conn.port, framer=framer, **common)
        # One silent unit must not make pymodbus drop a link the other units still answer
        # on; this hub decides when a link is dead (`link_reset_after` timeouts in a row).
        client.set_max_no_responses(1_000_000)
        return client

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def _classify_connect_failure(self) -> DeviceError:
        """pymodbus reports only that a connect failed; find out why, for the status reason."""
        conn = self._conn
        if isinstance(conn, ModbusRtu):
            return DeviceUnreachable("cannot open serial port", conn.device)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(conn.host, conn.port), self._timeout
            )
        except ConnectionRefusedError:
            return DeviceUnreachable("connection refused", str(self.key))
        except TimeoutError:
            return DeviceTimeout(f"connect to {self.key}")
        except OSError as exc:
            return DeviceUnreachable((exc.strerror or str(exc)).lower(), str(self.key))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return DeviceUnreachable("connect failed", str(self.key))

    async def _ensure_connected(self) -> None:
        if self.connected:
            return
        now = time.monotonic()
        if now < self._retry_at and self._last_reason is not None:
            raise self._last_reason
        self.connects += 1
        try:
            ok = await self._client.connect()
        except SERIAL_OPEN_ERRORS as exc:
            self._client.close()
            conn = self._conn
            if not isinstance(conn, ModbusRtu):
                self._connect_failed(await self._classify_connect_failure())
            self._connect_failed(
                DeviceUnreachable("cannot open serial port", f"{conn.device}: {_describe(exc)}")
            )
        if ok and self.connected:
            if self._connect_failures:
                log.info("%s: connected after %d failed attempts", self.key, self._connect_failures)
            self._connect_failures = 0
            self._last_reason = None
            self._timeouts_in_row = 0
            return
        self._client.close()
        self._connect_failed(await self._classify_connect_failure())

    def _connect_failed(self, error: DeviceError) -> NoReturn:
        """Back off before the next connect attempt and fail the request with `error`."""
        delay = backoff_delay(
            self._connect_failures, self._backoff_initial, self._backoff_max, self._rng
        )
        self._connect_failures += 1
        self._retry_at = time.monotonic() + delay
        self._last_reason = error
        log.debug("%s: %s; next connect attempt in %.1f s", self.key, error, delay)
        raise error

    def _drop_link(self, why: str) -> None:
        log.debug("%s: closing the connection (%s)", self.key, why)
        self._client.close()
        self._retry_at = 0.0

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        """Read `count` registers (or bits, as 0/1) from one unit; raise a DeviceError."""
        async with self._lock:
            if not self._client.connected:
                await self._ensure_connected()
            if self._delay:
                wait = self._last_frame + self._delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            self.requests += 1
            try:
                # pymodbus bounds the exchange by `timeout` (retries=0): no timer of ours
                response = await self._request(table, address, count, unit)
            except (ModbusIOException, TimeoutError) as exc:
                lost = not self.connected
                self._timeouts_in_row += 1
                if lost:
                    self._drop_link("connection lost")
                    raise DeviceUnreachable("connection lost", str(self.key)) from exc
                if self._timeouts_in_row >= self._link_reset_after:
                    self._drop_link(f"{self._timeouts_in_row} timeouts in a row")
                raise DeviceTimeout(f"unit {unit} on {self.key}") from exc
            except ConnectionException as exc:
                self._drop_link("connection lost")
                raise DeviceUnreachable("connection lost", str(self.key)) from exc
            except ModbusException as exc:
                raise DeviceUnreachable("protocol error", str(exc)) from exc
            finally:
                if self._delay:
                    self._last_frame = time.monotonic()
            self._timeouts_in_row = 0
            if response.isError():
                code = int(getattr(response, "exception_code", 0))
                raise DeviceExceptionResponse(code, f"unit {unit} on {self.key}")
            if table.is_bits:
                bits: Sequence[bool] = response.bits
                if len(bits) < count:
                    raise DeviceUnreachable("short response", f"{len(bits)} of {count} bits")
                return [int(b) for b in bits[:count]]
            registers: Sequence[int] = response.registers
            if len(registers) < count:
                raise DeviceUnreachable("short response", f"{len(registers)} of {count} registers")
            return list(registers[:count])

    def _request(self, table: Table, address: int, count: int, unit: int) -> Any:
        c = self._client
        if table is Table.HOLDING:
            return c.read_holding_registers(address, count=count, device_id=unit)
        if table is Table.INPUT:
            return c.read_input_registers(address, count=count, device_id=unit)
        if table is Table.COIL:
            return c.read_coils(address, count=count, device_id=unit)
        return c.read_discrete_inputs(address, count=count, device_id=unit)

    async def close(self) -> None:
        async with self._lock:
            self._client.close()


@dataclass(slots=True)
class PollResult:
    """What one poll of one device produced."""

    values: dict[str, Value] = field(default_factory=dict)
    quality: dict[str, Quality] = field(default_factory=dict)
    errors: list[DeviceError] = field(default_factory=list)
    reads: int = 0
    failed_reads: int = 0

    @property
    def answered(self) -> bool:
        """The device answered at least one read."""
        return self.reads > self.failed_reads

    @property
    def error(self) -> DeviceError | None:
        return self.errors[-1] if self.errors else None


class ModbusDevice:
    """One unit behind a hub, read by its profile's plan."""

    def __init__(self, hub: ModbusHub, unit: int, profile: ModbusProfile) -> None:
        self.hub = hub
        self.unit = unit
        self.profile = profile
        self._plans: dict[frozenset[str], CompiledPlan] = {}
        self._derived = DerivedValues(profile)

    def compile(self, points: Sequence[ModbusPoint]) -> CompiledPlan:
        """The reads (and their decoders) of `points`, for `poll_compiled`; cached."""
        key = frozenset([p.name for p in points])
        compiled = self._plans.get(key)
        if compiled is None:
            compiled = [
                (b, BlockDecoder(b.points, b.address, b.table.is_bits))
                for b in plan_reads(points, self.profile.modbus)
            ]
            self._plans[key] = compiled
        return compiled

    def plan(self, points: Sequence[ModbusPoint]) -> list[ReadBlock]:
        return [block for block, _ in self.compile(points)]

    async def poll(self, points: Sequence[ModbusPoint]) -> PollResult:
        """Read and decode `points`. A failed read marks its points unavailable.

        After a timeout or a lost connection the rest of the cycle is skipped: a unit that
        does not answer costs the shared link one timeout per poll, not one per read.
        """
        return await self.poll_compiled(self.compile(points))

    async def poll_compiled(self, compiled: CompiledPlan) -> PollResult:
        """`poll`, with the plan of `compile(points)` made once by the caller."""
        result = PollResult()
        values, quality = result.values, result.quality
        read = self.hub.read
        for i, (block, decoder) in enumerate(compiled):
            result.reads += 1
            try:
                data = await read(block.table, block.address, block.count, self.unit)
            except DeviceError as exc:
                result.failed_reads += 1
                result.errors.append(exc)
                exception = isinstance(exc, DeviceExceptionResponse)
                skipped = compiled[i : i + 1] if exception else compiled[i:]
                for b, _ in skipped:
                    for p in b.points:
                        values[p.name] = None
                        quality[p.name] = Quality.UNAVAILABLE
                if exception:
                    continue
                result.failed_reads += len(compiled) - i - 1
                result.reads += len(compiled) - i - 1
                break
            for name, value in zip(decoder.names, decoder.decode(data), strict=True):
                values[name] = value
                if value is None:
                    quality[name] = Quality.UNAVAILABLE
        if self._derived:
            self._derived.apply(values, quality)
        return result
