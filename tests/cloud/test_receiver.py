"""The consumer's broker side without a broker: what it holds, drops and counts."""

from __future__ import annotations

import pytest

from cloud import receiver
from cloud.receiver import IngestStats, Receiver
from plantroom.mqttwire import Publish
from plantroom.settings import CloudSettings

TOPIC = b"plantroom/v1/s1/b1/pump/p1/telemetry"


def message(qos: int, mid: int) -> Publish:
    return Publish(TOPIC, b"{}", qos=qos, mid=mid, retain=False)


def test_qos0_past_the_buffer_is_dropped_and_counted_qos1_never(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(receiver, "MQTT_BUFFER", 3)
    stats = IngestStats()
    r = Receiver(CloudSettings(), client_id="c", persistent=False, stats=stats)
    for mid in range(3):
        r._on_message(message(0, 0), (1, mid, 0))
    r._on_message(message(0, 0), (1, 0, 0))
    assert r.buffered == 3 and stats.dropped == 1
    assert "dropped a QoS 0 message on plantroom/v1/s1/b1/pump/p1/telemetry" in caplog.text
    r._on_message(message(1, 7), (1, 7, 1))  # bounded by the Receive Maximum instead
    assert r.buffered == 4 and stats.dropped == 1


def test_the_connection_state_reaches_the_stats() -> None:
    stats = IngestStats()
    r = Receiver(CloudSettings(), client_id="c", persistent=True, stats=stats)
    r._on_connection(True, None)
    assert stats.connected and stats.connects == 1
    r._on_connection(False, "cannot reach the broker at localhost:1883")
    assert not stats.connected and stats.last_error == "cannot reach the broker at localhost:1883"
