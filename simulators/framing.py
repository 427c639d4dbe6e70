"""Modbus framings: MBAP (Modbus TCP) and RTU (serial frames with a CRC, also carried over TCP).

A framer cuts requests out of a byte stream, wraps response PDUs back into frames, and makes
the malformed answers of the `garbage` fault. The PDU in between is the same for both, so one
set of device models serves every transport.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from typing import ClassVar, Protocol

MBAP = struct.Struct(">HHHB")  # transaction id, protocol id, length, unit id
MAX_LENGTH = 254  # unit id + 253-byte PDU
MAX_RTU_FRAME = 256  # unit id + 253-byte PDU + CRC


class MalformedFrame(Exception):
    """The bytes are not a Modbus request."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request cut from the stream: its unit id, PDU and (MBAP) transaction id."""

    unit: int
    pdu: bytes
    tid: int = 0


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """Modbus CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    """Unit id + PDU + CRC (low byte first), as it goes on the wire."""
    body = bytes((unit,)) + pdu
    return body + crc16(body).to_bytes(2, "little")


class Framer(Protocol):
    name: ClassVar[str]
    # a TCP gateway answers 0x0B for a unit nobody answers to; on an RTU line it is silence
    gateway_exceptions: ClassVar[bool]
    # a malformed MBAP header leaves no way to find the next frame: close the connection
    close_on_malformed: ClassVar[bool]

    def split(self, buf: bytearray) -> tuple[Request | None, int]:
        """(request, bytes used); (None, 0) wants more bytes; (None, n) discards n bytes.

        Raises MalformedFrame when the stream cannot be Modbus at all.
        """
        ...

    def flush(self, buf: bytearray) -> Request | None:
        """The line fell silent with `buf` pending: the frame it holds, if it is one."""
        ...

    def reply(self, request: Request, pdu: bytes) -> bytes: ...

    def garbage(self, request: Request, pdu: bytes, turn: int, rng: random.Random) -> bytes: ...


class MbapFramer:
    """Modbus TCP: a 7-byte MBAP header carries the transaction id and the length."""

    name: ClassVar[str] = "mbap"
    gateway_exceptions: ClassVar[bool] = True
    close_on_malformed: ClassVar[bool] = True

    def split(self, buf: bytearray) -> tuple[Request | None, int]:
        if len(buf) < MBAP.size:
            return None, 0
        tid, protocol, length, unit = MBAP.unpack_from(buf)
        if protocol != 0 or not 2 <= length <= MAX_LENGTH:
            raise MalformedFrame(f"bad MBAP header (protocol {protocol}, length {length})")
        end = 6 + length
        if len(buf) < end:
            return None, 0
        return Request(unit, bytes(buf[MBAP.size : end]), tid), end

    def flush(self, buf: bytearray) -> Request | None:
        return None

    def reply(self, request: Request, pdu: bytes) -> bytes:
        return MBAP.pack(request.tid, 0, len(pdu) + 1, request.unit) + pdu

    def garbage(self, request: Request, pdu: bytes, turn: int, rng: random.Random) -> bytes:
        variant = turn % 3
        if variant == 0:  # an answer to some other request
            return MBAP.pack((request.tid + 1) & 0xFFFF, 0, len(pdu) + 1, request.unit) + pdu
        if variant == 1:  # announces more bytes than it sends
            return MBAP.pack(request.tid, 0, len(pdu) + 6, request.unit) + pdu
        return rng.randbytes(rng.randint(9, 24))


def _rtu_request_length(buf: bytearray) -> int | None:
    """The length of the request frame starting `buf`, None while it cannot be known."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if 1 <= fc <= 6:
        return 8  # unit, function, address, quantity or value, CRC
    if fc in (15, 16):
        return 9 + buf[6] if len(buf) >= 7 else None
    return None  # not a request we know the shape of: wait for the line to fall silent


class RtuFramer:
    """Modbus RTU: unit id, PDU, CRC; frames end where the line falls silent."""

    name: ClassVar[str] = "rtu"
    gateway_exceptions: ClassVar[bool] = False
    close_on_malformed: ClassVar[bool] = False

    def split(self, buf: bytearray) -> tuple[Request | None, int]:
        need = _rtu_request_length(buf)
        if need is None:
            if len(buf) > MAX_RTU_FRAME:
                return None, len(buf)  # no request is this long: drop the noise
            return None, 0
        if len(buf) < need:
            return None, 0
        frame = buf[:need]
        if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
            # a corrupt frame: like a device on a line, ignore all until the line is quiet
            return None, len(buf)
        return Request(frame[0], bytes(frame[1:-2])), need

    def flush(self, buf: bytearray) -> Request | None:
        if len(buf) < 4 or crc16(buf[:-2]) != int.from_bytes(buf[-2:], "little"):
            return None
        return Request(buf[0], bytes(buf[1:-2]))

    def reply(self, request: Request, pdu: bytes) -> bytes:
        return rtu_frame(request.unit, pdu)

    def garbage(self, request: Request, pdu: bytes, turn: int, rng: random.Random) -> bytes:
        variant = turn % 3
        if variant == 0:  # a bad CRC
            frame = bytearray(rtu_frame(request.unit, pdu))
            frame[-1] ^= 0xFF
            return bytes(frame)
        if variant == 1:  # a well-formed answer from the wrong unit
            return rtu_frame(request.unit % 247 + 1, pdu)
        return rng.randbytes(rng.randint(9, 24))


FRAMERS: dict[str, type[MbapFramer] | type[RtuFramer]] = {"mbap": MbapFramer, "rtu": RtuFramer}
