"""MBAP and RTU framing: cutting requests from a stream, CRCs, and the garbage fault's frames."""

from __future__ import annotations

import random
import struct

import pytest

from simulators.framing import (
    MalformedFrame,
    MbapFramer,
    Request,
    RtuFramer,
    crc16,
    rtu_frame,
)


@pytest.mark.parametrize(
    ("body", "crc_wire"),
    [
        # reference frames from the Modbus over serial line guide and common tools
        (bytes.fromhex("010300000001"), bytes.fromhex("840a")),
        (bytes.fromhex("01030000000a"), bytes.fromhex("c5cd")),
        (bytes.fromhex("1103006b0003"), bytes.fromhex("7687")),
    ],
)
def test_crc16_matches_reference_frames(body: bytes, crc_wire: bytes) -> None:
    assert crc16(body).to_bytes(2, "little") == crc_wire
    assert rtu_frame(body[0], body[1:]) == body + crc_wire


def test_rtu_requests_are_cut_by_function_code() -> None:
    framer = RtuFramer()
    read = rtu_frame(1, bytes.fromhex("03000a0002"))
    write = rtu_frame(7, bytes.fromhex("10000100020400010002"))
    buf = bytearray(read + write[:5])
    assert framer.split(buf) == (Request(1, bytes.fromhex("03000a0002")), 8)
    del buf[:8]
    assert framer.split(buf) == (None, 0)  # the write's byte count is not in yet
    buf += write[5:]
    request, used = framer.split(buf)
    assert request == Request(7, bytes.fromhex("10000100020400010002"))
    assert used == len(write) == 13


def test_a_corrupt_rtu_frame_is_dropped_with_whatever_follows_it() -> None:
    framer = RtuFramer()
    bad = bytearray(rtu_frame(1, bytes.fromhex("0300000001")))
    bad[-1] ^= 0x01
    buf = bad + rtu_frame(2, bytes.fromhex("0300000001"))
    assert framer.split(buf) == (None, len(buf))


def test_an_rtu_frame_of_unknown_shape_waits_for_silence() -> None:
    framer = RtuFramer()
    odd = rtu_frame(1, bytes.fromhex("2b0e0100"))  # read device identification
    buf = bytearray(odd)
    assert framer.split(buf) == (None, 0)
    assert framer.flush(buf) == Request(1, bytes.fromhex("2b0e0100"))
    assert framer.flush(bytearray(odd[:-1] + b"\x00")) is None
    assert framer.split(bytearray(b"\x01\x2b" + bytes(300))) == (None, 302)


def test_mbap_requests_and_bad_headers() -> None:
    framer = MbapFramer()
    frame = struct.pack(">HHHB", 9, 0, 6, 4) + bytes.fromhex("0300000002")
    buf = bytearray(frame + frame[:3])
    assert framer.split(buf) == (Request(4, bytes.fromhex("0300000002"), tid=9), 12)
    assert framer.split(bytearray(frame[:10])) == (None, 0)
    with pytest.raises(MalformedFrame, match="protocol 7"):
        framer.split(bytearray(struct.pack(">HHHB", 1, 7, 6, 1) + bytes(5)))
    with pytest.raises(MalformedFrame, match="length 400"):
        framer.split(bytearray(struct.pack(">HHHB", 1, 0, 400, 1)))
    assert framer.reply(Request(4, b"", tid=9), b"\x03\x02\x00\x07") == (
        struct.pack(">HHHB", 9, 0, 5, 4) + b"\x03\x02\x00\x07"
    )


def test_garbage_answers_take_turns() -> None:
    rng = random.Random(1)
    pdu = b"\x03\x02\x00\x07"
    req = Request(4, b"\x03\x00\x00\x00\x01", tid=41)
    mbap = MbapFramer()
    wrong_tid = mbap.garbage(req, pdu, 0, rng)
    assert struct.unpack(">HHHB", wrong_tid[:7]) == (42, 0, 5, 4)
    wrong_length = mbap.garbage(req, pdu, 1, rng)
    assert struct.unpack(">HHHB", wrong_length[:7]) == (41, 0, 10, 4)
    assert len(wrong_length) == 7 + len(pdu)
    assert 9 <= len(mbap.garbage(req, pdu, 2, rng)) <= 24

    rtu = RtuFramer()
    bad_crc = rtu.garbage(req, pdu, 0, rng)
    assert bad_crc[:-2] == b"\x04" + pdu and bad_crc != rtu_frame(4, pdu)
    other_unit = rtu.garbage(req, pdu, 1, rng)
    assert other_unit == rtu_frame(5, pdu)
    assert rtu.garbage(Request(247, b""), pdu, 1, rng)[0] == 1
