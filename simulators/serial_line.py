"""Modbus RTU on a serial line: the simulator is every device on one RS-485 bus.

The line is a tty opened directly (termios, no serial library): a real adapter such as
/dev/ttyUSB0, or for tests one end of a pseudo-terminal pair made by

    socat -d -d pty,raw,echo=0,link=/tmp/sim-line pty,raw,echo=0,link=/tmp/client-line

while a client opens the other end. Frames are RTU (unit id, PDU, CRC); a device answers only
its own unit id, never a broadcast, and ignores a corrupt frame. When the line goes away (the
adapter is unplugged, the pty pair ends) the server reopens it with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import termios
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from simulators.errors import SimulatorError
from simulators.modbus_server import ModbusConnection, ModbusService
from simulators.pdu import ModbusUnit

log = logging.getLogger(__name__)

MAX_PENDING = 64 * 1024  # bytes waiting to be written before the line is considered stuck


@dataclass(frozen=True, slots=True)
class LineSettings:
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    def describe(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


def _speed(baudrate: int) -> int:
    speed = getattr(termios, f"B{baudrate}", None)
    if not isinstance(speed, int):
        raise SimulatorError(f"baud rate {baudrate} is not one this system's serial ports know")
    return speed


def configure(fd: int, line: LineSettings) -> None:
    """Raw mode at the line's speed and character format."""
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
        | termios.IXOFF
    )
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB | termios.PARODD | termios.CSTOPB)
    cflag |= termios.CREAD | termios.CLOCAL
    cflag |= termios.CS8 if line.bytesize == 8 else termios.CS7
    if line.parity != "N":
        cflag |= termios.PARENB | (termios.PARODD if line.parity == "O" else 0)
    if line.stopbits == 2:
        cflag |= termios.CSTOPB
    cc[termios.VMIN] = 0
    cc[termios.VTIME] = 0
    speed = _speed(line.baudrate)
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])


class _SerialLink:
    """Writes to the line without blocking the event loop."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop, lost: asyncio.Event) -> None:
        self.fd = fd
        self.loop = loop
        self.lost = lost
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
        if self.pending:
            self._queue(data)
            return
        try:
            sent = os.write(self.fd, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            log.debug("serial write failed: %s", exc)
            self.lost.set()
            return
        if sent < len(data):
            self._queue(data[sent:])
            self.loop.add_writer(self.fd, self._flush)

    def _queue(self, data: bytes) -> None:
        if len(self.pending) + len(data) > MAX_PENDING:
            log.warning("serial line not draining: dropping %d bytes of answers", len(data))
            return
        self.pending += data

    def _flush(self) -> None:
        try:
            sent = os.write(self.fd, self.pending)
        except BlockingIOError:
            return
        except OSError:
            self.loop.remove_writer(self.fd)
            self.lost.set()
            return
        del self.pending[:sent]
        if not self.pending:
            self.loop.remove_writer(self.fd)

    def abort(self) -> None:
        """A line has no connection to drop: discard what waits to be written."""
        self.pending.clear()


class SerialLineServer(ModbusService):
    """Serves a set of units on one serial device until cancelled."""

    def __init__(
        self, device: str, units: Mapping[int, ModbusUnit], line: LineSettings | None = None
    ) -> None:
        super().__init__(device, units, "rtu")
        self.device = device
        self.line = line or LineSettings()
        self.fd: int | None = None
        self._conn: ModbusConnection | None = None
        self._link: _SerialLink | None = None
        self._lost: asyncio.Event | None = None

    @property
    def address(self) -> str:
        return self.device

    @property
    def is_open(self) -> bool:
        return self.fd is not None

    async def start(self) -> None:
        """Open the line; SimulatorError names the device when it cannot be opened."""
        if self.fd is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise SimulatorError(
                f"cannot open serial line {self.device}: {exc.strerror or exc}"
            ) from exc
        try:
            configure(fd, self.line)
        except (termios.error, SimulatorError) as exc:
            os.close(fd)
            if isinstance(exc, SimulatorError):
                raise
            raise SimulatorError(f"{self.device} is not a serial line: {exc}") from exc
        self._lost = asyncio.Event()
        self.fd = fd
        self._link = _SerialLink(fd, loop, self._lost)
        self._conn = ModbusConnection(self, peer=self.device)
        self._conn.attach(self._link)
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        assert self.fd is not None and self._conn is not None and self._lost is not None
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("serial line %s: %s", self.device, exc)
            self._lost.set()
            asyncio.get_running_loop().remove_reader(self.fd)
            return
        if data:
            self._conn.data_received(data)

    async def serve(self) -> None:
        """Serve until cancelled; reopen the line with backoff when it goes away."""
        backoff = 0.2
        try:
            while True:
                if self.fd is None:
                    try:
                        await self.start()
                        log.info("serial line %s open again", self.device)
                        backoff = 0.2
                    except SimulatorError as exc:
                        log.debug("serial line %s: %s", self.device, exc)
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                assert self._lost is not None
                await self._lost.wait()
                log.warning("serial line %s went away; reopening", self.device)
                await self.close()
        finally:
            await self.close()

    async def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        loop.remove_writer(fd)
        if self._conn is not None:
            self._conn.connection_lost(None)
        self._conn = self._link = None
        with contextlib.suppress(OSError):
            os.close(fd)
