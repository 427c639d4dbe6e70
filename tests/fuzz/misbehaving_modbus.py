"""A Modbus TCP server that answers each request the way it is told to, right or wrong.

`Misbehaving.script` holds what to do with the next requests, one entry per request; with the
script empty it answers correctly (registers hold `expected_register`, bits
`expected_bit`). The faults are those a broken device or gateway sends on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import deque
from dataclasses import dataclass

FAULTS = (
    "exception",  # an exception response with the given code
    "silent",  # nothing at all
    "truncated",  # the first `cut` bytes of the right answer, then nothing
    "truncated_close",  # the first `cut` bytes, then the connection closes
    "wrong_tid",  # the right answer under another transaction id
    "wrong_unit",  # the right answer from another unit id
    "wrong_function",  # the right data under another function code
    "wrong_byte_count",  # a byte count that does not match the data
    "short_data",  # a consistent frame carrying fewer registers/bits than asked for
    "bad_length",  # an MBAP length field that does not match the frame
    "garbage",  # the given bytes instead of an answer
    "close",  # the connection closes without an answer
)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    code: int = 4  # exception: the exception code
    cut: int = 3  # truncated: bytes of the answer sent; bad_length: how far the length is off
    data: bytes = b""  # garbage: what is sent

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULTS)}")


def expected_register(address: int, unit: int) -> int:
    return (address * 7 + unit) & 0xFFFF


def expected_bit(address: int) -> int:
    return int(address % 3 == 0)


def mbap(tid: int, unit: int, pdu: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1 if length is None else length, unit) + pdu


def answer_pdu(function: int, address: int, count: int, unit: int) -> bytes:
    if function in (3, 4):
        words = [expected_register(address + i, unit) for i in range(count)]
        return struct.pack(f">BB{count}H", function, 2 * count, *words)
    packed = bytearray((count + 7) // 8)
    for i in range(count):
        if expected_bit(address + i):
            packed[i // 8] |= 1 << (i % 8)
    return struct.pack(">BB", function, len(packed)) + bytes(packed)


class Misbehaving:
    """`async with Misbehaving() as server:` listens on 127.0.0.1:`server.port`."""

    def __init__(self) -> None:
        self.script: deque[Fault] = deque()
        self.requests = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Misbehaving:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()  # each handler then ends on its reader's EOF
        async with asyncio.timeout(5):
            await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                self.requests += 1
                if not await self._answer(writer, tid, unit, pdu):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)
            self._writers.discard(writer)

    async def _answer(self, writer: asyncio.StreamWriter, tid: int, unit: int, pdu: bytes) -> bool:
        """Write the answer to one request; False closes the connection."""
        function, address, count = struct.unpack(">BHH", pdu[:5])
        right = answer_pdu(function, address, count, unit)
        fault = self.script.popleft() if self.script else None
        if fault is None:
            writer.write(mbap(tid, unit, right))
            return True
        kind = fault.kind
        if kind == "exception":
            writer.write(mbap(tid, unit, bytes([function | 0x80, fault.code])))
        elif kind in ("truncated", "truncated_close"):
            frame = mbap(tid, unit, right)
            writer.write(frame[: min(fault.cut, len(frame) - 1)])
            return kind == "truncated"
        elif kind == "wrong_tid":
            writer.write(mbap((tid + 1) & 0xFFFF, unit, right))
        elif kind == "wrong_unit":
            writer.write(mbap(tid, (unit + 1) & 0xFF, right))
        elif kind == "wrong_function":
            other = {1: 3, 2: 4, 3: 1, 4: 2}.get(function, 3)
            writer.write(mbap(tid, unit, bytes([other]) + right[1:]))
        elif kind == "wrong_byte_count":
            writer.write(mbap(tid, unit, right[:1] + bytes([(right[1] + 1) & 0xFF]) + right[2:]))
        elif kind == "short_data":
            data = right[2:-2] if function in (3, 4) else b""
            writer.write(mbap(tid, unit, bytes([function, len(data)]) + data))
        elif kind == "bad_length":
            # even `cut`: the header promises more than follows; odd: less than follows
            length = len(right) + 1 + fault.cut if fault.cut % 2 == 0 else len(right) - fault.cut
            writer.write(mbap(tid, unit, right, length=max(1, length)))
        elif kind == "garbage":
            writer.write(fault.data)
        elif kind == "close":
            return False
        return True
