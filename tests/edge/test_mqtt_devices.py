"""Vendor JSON → profile points (profile lumen-lc4), and what a bad message does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.mqtt_devices import MqttDevices, VendorDecoder, convert, lookup
from plantroom.errors import InvalidMessage
from plantroom.inventory import Inventory
from plantroom.profiles import MqttPoint, MqttProfile, ProfileLibrary
from plantroom.schema import Quality

T0 = 1_700_000_000_000
RECEIVED = 1_800_000_000_000


def lumen() -> MqttProfile:
    profile, _ = ProfileLibrary().get("lumen-lc4")
    assert isinstance(profile, MqttProfile)
    return profile


def message(**over: Any) -> bytes:
    doc: dict[str, Any] = {
        "device": "lc-a1",
        "time": T0,
        "mains_v": 229.8,
        "circuits": [
            {
                "n": n,
                "on": n % 2 == 1,
                "power_w": 100.0 * n,
                "lamps": 12,
                "failed": 0,
                "tripped": False,
                "burn_h": 1234.5,
            }
            for n in range(1, 5)
        ],
    }
    doc.update(over)
    return json.dumps(doc).encode()


def test_maps_every_point_by_path() -> None:
    sample = VendorDecoder("light-a1", lumen()).decode("lumen/a/state", message(), RECEIVED)
    assert sample.ts == T0
    assert sample.values["mains_voltage"] == 229.8
    assert sample.values["circuit_1_on"] is True
    assert sample.values["circuit_2_on"] is False
    assert sample.values["circuit_3_power"] == 300.0
    assert sample.values["circuit_4_lamps"] == 12
    assert sample.values["circuit_4_burn_hours"] == 1234.5
    assert sample.quality == {}
    assert len(sample.values) == 25


def test_receive_time_when_the_timestamp_is_missing_or_absurd(
    caplog: pytest.LogCaptureFixture,
) -> None:
    decoder = VendorDecoder("light-a1", lumen())
    doc = json.loads(message())
    del doc["time"]
    assert decoder.decode("t", json.dumps(doc).encode(), RECEIVED).ts == RECEIVED
    assert decoder.decode("t", message(time=1_700_000_000), RECEIVED).ts == RECEIVED  # seconds
    assert decoder.decode("t", message(time="soon"), RECEIVED).ts == RECEIVED
    assert decoder.bad_timestamps == 3
    assert sum("timestamp" in r.message for r in caplog.records) == 1


def test_missing_points_are_unavailable() -> None:
    sample = VendorDecoder("l", lumen()).decode("t", message(circuits=[{"on": True}]), RECEIVED)
    assert sample.values["circuit_1_on"] is True
    assert sample.values["circuit_1_power"] is None
    assert sample.quality["circuit_1_power"] is Quality.UNAVAILABLE
    assert sample.values["circuit_4_on"] is None
    assert sample.quality["circuit_4_on"] is Quality.UNAVAILABLE


def test_wrongly_typed_values_are_unavailable_and_counted() -> None:
    decoder = VendorDecoder("l", lumen())
    sample = decoder.decode("t", message(mains_v="high"), RECEIVED)
    assert sample.values["mains_voltage"] is None
    assert sample.quality["mains_voltage"] is Quality.UNAVAILABLE
    assert decoder.bad_points == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"42", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b'{"other": 1}', "none of the 25 points"),
        (b"{" + b" " * 300_000 + b"}", "exceeds"),
    ],
)
def test_malformed_messages_raise_invalid_message(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason) as info:
        VendorDecoder("l", lumen()).decode("lumen/x/state", payload, RECEIVED)
    assert info.value.topic == "lumen/x/state"


def point(type_: str, **kw: Any) -> MqttPoint:
    return MqttPoint.model_validate({"name": "p", "path": "p", "type": type_, **kw})


@pytest.mark.parametrize(
    ("p", "raw", "expected"),
    [
        (point("bool"), True, True),
        (point("bool"), 0, False),
        (point("int"), 7, 7),
        (point("int"), 7.0, 7),
        (point("int", scale=0.1), 223, 22.3),
        (point("float"), 3, 3.0),
        (point("float", scale=2, offset=1), 1.5, 4.0),
        (point("string"), "ok", "ok"),
        (point("float"), None, None),
        (point("int", not_available=-1), -1, None),
        (point("string", not_available="n/a"), "n/a", None),
    ],
)
def test_convert(p: MqttPoint, raw: Any, expected: Any) -> None:
    value = convert(p, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("p", "raw"),
    [
        (point("bool"), "yes"),
        (point("bool"), 2),
        (point("int"), 1.5),
        (point("int"), True),
        (point("float"), "1"),
        (point("string"), 1),
    ],
)
def test_convert_rejects_wrong_types(p: MqttPoint, raw: Any) -> None:
    with pytest.raises(ValueError, match="expected"):
        convert(p, raw)


def test_lookup_follows_dicts_and_lists() -> None:
    doc = {"a": [{"b": 1}, {"b": 2}], "0": "zero"}
    assert lookup(doc, ("a", 1, "b")) == 2
    assert lookup(doc, (0,)) == "zero"
    missing = lookup(doc, ("a", 5, "b"))
    assert missing is lookup(doc, ("x",)) is lookup(doc, ("a", "b"))


def test_devices_route_by_topic_and_count_malformed(caplog: pytest.LogCaptureFixture) -> None:
    inventory = Inventory.model_validate(
        {
            "site": {"id": "s"},
            "buildings": [
                {
                    "id": "b",
                    "equipment": [
                        {
                            "id": "l1",
                            "kind": "lighting",
                            "profile": "lumen-lc4",
                            "connection": {"type": "mqtt", "topic": "lumen/1/state"},
                        },
                        {
                            "id": "l2",
                            "kind": "lighting",
                            "profile": "lumen-lc4",
                            "connection": {"type": "mqtt", "topic": "lumen/2/state"},
                        },
                        {
                            "id": "p1",
                            "kind": "pump",
                            "profile": "plantroom-sim-pump",
                            "connection": {"type": "modbus_tcp", "host": "h"},
                        },
                    ],
                }
            ],
        }
    )
    devices = MqttDevices(ProfileLibrary().assign(inventory))
    assert devices.topics == ["lumen/1/state", "lumen/2/state"]
    [(assignment, sample)] = devices.handle("lumen/2/state", message(), RECEIVED)
    assert assignment.equipment.id == "l2"
    assert sample.values["mains_voltage"] == 229.8
    assert devices.handle("lumen/1/state", b"garbage", RECEIVED) == []
    assert devices.handle("unrelated/topic", message(), RECEIVED) == []
    assert devices.malformed == {"lumen/1/state": 1}
    assert any("lumen/1/state" in r.message and r.levelname == "WARNING" for r in caplog.records)
    # a vendor time a day ahead of the agent's clock is refused, not taken as the newest
    day_ahead = message(time=RECEIVED + 86_400_000)
    assert devices.handle("lumen/2/state", day_ahead, RECEIVED) == []
    assert devices.future == {"lumen/2/state": 1}
    assert devices.malformed["lumen/2/state"] == 1
    assert any("ahead of the receiver's clock" in r.message for r in caplog.records)


def test_a_vendor_time_ahead_of_the_clock_by_more_than_the_skew_is_refused() -> None:
    decoder = VendorDecoder("l", lumen(), max_skew_s=60)
    within = decoder.decode("t", message(time=RECEIVED + 59_000), RECEIVED)
    assert within.ts == RECEIVED + 59_000
    with pytest.raises(InvalidMessage, match=r"61\.0 s ahead .*at most 60 s"):
        decoder.decode("t", message(time=RECEIVED + 61_000), RECEIVED)
