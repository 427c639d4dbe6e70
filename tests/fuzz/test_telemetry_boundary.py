"""Hostile telemetry at the consumers' boundary, without servers.

The contract: `parse_telemetry`, the gateway's topic → line path and the cloud consumer's
`parse` either accept a message or raise `InvalidMessage` / `ValueError` with a non-empty
reason. Nothing else may escape, and nothing built to be invalid may be accepted.
"""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from cloud.ingest import TelemetryConsumer
from cloud.messages import parse_status
from cloud.monitor import StatusItem, TelemetryItem
from plantroom.errors import InvalidMessage
from plantroom.influx.lineprotocol import TelemetryEncoder
from plantroom.influx.parse import parse_line
from plantroom.schema import MAX_PAYLOAD_BYTES, parse_telemetry
from tests.fuzz.budget import fast
from tests.fuzz.oracle import gateway_path
from tests.fuzz.strategies import (
    any_bad_topics,
    good_payload,
    malformed_payload,
    segments,
    subscribed_bad_topics,
    telemetry_topic,
)

TOPIC = "plantroom/v1/s1/b1/pump/p1/telemetry"
# topic faults the cloud, which writes no line protocol, has no reason to refuse
LINE_PROTOCOL_ONLY = {"bad_site_segment", "bad_equipment_segment", "control_characters"}


def rejected(outcome: tuple[str, int] | str, what: object) -> str:
    assert isinstance(outcome, str), f"accepted {what!r} as {outcome!r}"
    assert outcome.strip(), f"empty reason for {what!r}"
    return outcome


@given(malformed_payload())
@fast(400)
@example(("empty", b""))
@example(("deep_nesting", b"[" * 100_000 + b"]" * 100_000))
@example(("non_finite", b'{"ts": 1763900000000, "seq": 1, "points": {"a": NaN}}'))
def test_every_malformed_payload_is_rejected_with_a_reason(case: tuple[str, bytes]) -> None:
    category, payload = case
    try:
        parse_telemetry(TOPIC, payload)
    except InvalidMessage as exc:
        assert exc.topic == TOPIC
        assert exc.reason.strip(), category
        if category == "oversized":
            assert len(payload) > MAX_PAYLOAD_BYTES
            assert "exceeds" in exc.reason
    else:
        raise AssertionError(f"{category} payload accepted: {payload[:200]!r}")
    rejected(gateway_path(TelemetryEncoder(), TOPIC, payload), (category, payload[:200]))


@given(st.one_of(st.binary(max_size=512), st.text(max_size=256)))
@fast(400)
@example("\ud800")  # a lone surrogate in a text payload
@example(b"\x00")
def test_arbitrary_bytes_or_text_never_escape_as_another_error(payload: bytes | str) -> None:
    try:
        parse_telemetry(TOPIC, payload)
    except InvalidMessage as exc:
        assert exc.reason.strip()


@given(good_payload(), st.data())
@fast(300)
def test_a_good_payload_with_bytes_flipped_is_accepted_or_rejected_cleanly(
    payload: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        where = data.draw(st.integers(0, len(mutated) - 1), label="where")
        mutated[where] = data.draw(st.integers(0, 255), label="byte")
    outcome = gateway_path(TelemetryEncoder(), TOPIC, bytes(mutated))
    if isinstance(outcome, str):
        assert outcome.strip()


@given(any_bad_topics, good_payload())
@fast(300)
def test_every_bad_topic_is_rejected_by_the_gateway_with_a_reason(
    case: tuple[str, str], payload: bytes
) -> None:
    category, topic = case
    reason = rejected(gateway_path(TelemetryEncoder(), topic, payload), (category, topic))
    assert len(reason) < 2000


@given(telemetry_topic(), good_payload())
@fast(200)
def test_good_messages_become_one_line_carrying_their_sequence(topic: str, payload: bytes) -> None:
    outcome = gateway_path(TelemetryEncoder(), topic, payload)
    assert not isinstance(outcome, str), outcome
    line, points = outcome
    doc = json.loads(payload)
    parsed = parse_line(line)
    assert parsed.fields["seq"] == doc["seq"]
    assert points == sum(v is not None for v in doc["points"].values())


# -- the cloud's consumer ----------------------------------------------------------------------


@given(
    st.one_of(
        malformed_payload().map(lambda c: (c[0], TOPIC, c[1])),
        st.tuples(subscribed_bad_topics | any_bad_topics, good_payload()).map(
            lambda t: (t[0][0], t[0][1], t[1])
        ),
    )
)
@fast(300)
def test_the_cloud_consumer_rejects_bad_messages_with_a_reason(
    case: tuple[str, str, bytes],
) -> None:
    category, topic, payload = case
    try:
        item = TelemetryConsumer.parse(topic, payload)
    except InvalidMessage as exc:
        assert exc.reason.strip()
        return
    assert category in LINE_PROTOCOL_ONLY, f"cloud accepted {category}: {topic!r} {payload[:200]!r}"
    assert isinstance(item, TelemetryItem)


@given(
    st.builds("plantroom/v1/{}/b1/pump/{}/status".format, segments, segments),
    st.one_of(
        st.binary(max_size=128),
        st.text(max_size=64),
        st.sampled_from([b"online", b'"offline"', b'{"status": "stale"}', b"{", b'{"status": 1}']),
        st.none(),
        st.integers(),
    ),
)
@fast(300)
def test_the_cloud_consumer_takes_any_status_payload_without_escaping_errors(
    topic: str, payload: object
) -> None:
    try:
        item = TelemetryConsumer.parse(topic, payload)
    except InvalidMessage as exc:
        assert exc.reason.strip()
        return
    assert item is None or isinstance(item, StatusItem)
    if isinstance(payload, bytes | str):
        status = parse_status(topic, payload)
        assert status is None or isinstance(item, StatusItem)
