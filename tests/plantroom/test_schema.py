"""The telemetry payload contract."""

from __future__ import annotations

import json

import pytest

from plantroom.errors import InvalidMessage
from plantroom.schema import (
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    FutureTimestamp,
    Telemetry,
    json_schema,
    parse_telemetry,
)

TOPIC = "plantroom/v1/s/b/pump/p1/telemetry"
TS = 1_763_900_000_000


def test_valid_payload_round_trips() -> None:
    msg = Telemetry(
        ts=TS, seq=7, points={"flow": 12.5, "dry_run": False, "starts": 3, "mode": "auto"}
    )
    parsed = parse_telemetry(TOPIC, msg.to_json())
    assert parsed == msg
    assert parsed.points["dry_run"] is False
    assert isinstance(parsed.points["starts"], int)


def test_quality_and_null_values() -> None:
    raw = json.dumps(
        {"ts": TS, "seq": 0, "points": {"speed": None}, "quality": {"speed": "unavailable"}}
    )
    parsed = parse_telemetry(TOPIC, raw)
    assert parsed.points["speed"] is None
    assert parsed.quality == {"speed": "unavailable"}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "payload"),
        (json.dumps({"seq": 1, "points": {"a": 1}}), "ts"),
        (json.dumps({"ts": TS, "seq": -1, "points": {"a": 1}}), "seq"),
        (json.dumps({"ts": TS, "seq": 2**63, "points": {"a": 1}}), "seq"),
        (json.dumps({"ts": TS, "seq": 1, "points": {"a": 2**63}}), "64 bits"),
        (json.dumps({"ts": TS, "seq": 1, "points": {"a": -(2**63) - 1}}), "64 bits"),
        (json.dumps({"ts": 1_700_000, "seq": 1, "points": {"a": 1}}), "ts"),
        (json.dumps({"ts": TS, "seq": 1, "points": {}}), "points"),
        (json.dumps({"ts": TS, "seq": 1, "points": {"Bad Name": 1}}), "points"),
        (json.dumps({"ts": TS, "seq": 1, "points": {"a": [1, 2]}}), "points.a"),
        (json.dumps({"ts": TS, "seq": 1, "points": {"a": 1}, "extra": 1}), "extra"),
        (json.dumps({"ts": TS, "seq": 1, "points": {"a": 1}, "quality": {"a": "meh"}}), "quality"),
    ],
)
def test_invalid_payload_names_the_field(payload: str | bytes, fragment: str) -> None:
    with pytest.raises(InvalidMessage) as err:
        parse_telemetry(TOPIC, payload)
    assert err.value.topic == TOPIC
    assert fragment in err.value.reason


def test_non_finite_numbers_are_rejected() -> None:
    with pytest.raises(InvalidMessage, match="finite"):
        parse_telemetry(TOPIC, '{"ts": ' + str(TS) + ', "seq": 1, "points": {"a": NaN}}')


def test_oversized_payload_is_rejected_before_parsing() -> None:
    with pytest.raises(InvalidMessage, match="exceeds"):
        parse_telemetry(TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1))


def test_json_schema_describes_the_payload() -> None:
    schema = json_schema()
    assert schema["required"] == ["ts", "seq", "points"]
    assert schema["additionalProperties"] is False
    assert schema["$schema"].endswith("2020-12/schema")


def test_the_bounds_themselves_are_accepted() -> None:
    raw = json.dumps({"ts": TS, "seq": MAX_SEQ, "points": {"a": -(2**63), "b": 2**63 - 1}})
    parsed = parse_telemetry(TOPIC, raw)
    assert parsed.seq == 2**63 - 1
    assert json_schema()["properties"]["seq"]["maximum"] == MAX_SEQ


def test_a_time_ahead_of_the_receivers_clock_by_more_than_the_skew_is_refused() -> None:
    now = TS
    ok = json.dumps({"ts": now + 300_000, "seq": 0, "points": {"dry_run": False}})
    assert parse_telemetry(TOPIC, ok, now_ms=now, max_skew_s=300).ts == now + 300_000
    ahead = json.dumps({"ts": now + 300_001, "seq": 0, "points": {"dry_run": False}})
    with pytest.raises(FutureTimestamp, match=r"300\.0 s ahead .*at most 300 s") as err:
        parse_telemetry(TOPIC, ahead, now_ms=now, max_skew_s=300)
    assert err.value.topic == TOPIC
    # the message of the review: a time near 2100, now refused against the wall clock
    forged = b'{"ts": 4102444700000, "seq": 0, "points": {"dry_run": false}}'
    with pytest.raises(FutureTimestamp):
        parse_telemetry(TOPIC, forged)
