"""The consumer's broker side without a broker: what it holds, drops and counts."""

from __future__ import annotations

import asyncio

import pytest

from cloud import receiver
from cloud.receiver import IngestStats, Receiver
from plantroom.mqttwire import Publish
from plantroom.settings import CloudSettings
from tests.harness import wait_for_async

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


class FakeSubscriber:
    """The connection side of `Receiver.run`: stays up until stopped, notes acknowledgements."""

    generation = 1

    def __init__(self) -> None:
        self.acks: list[list[int]] = []
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    def ack(self, tokens: list[tuple[int, int, int]]) -> int:
        self.acks.append([mid for _, mid, _ in tokens])
        return len(tokens)

    def stop(self) -> None:
        self._stopped.set()


def fake_receiver() -> tuple[Receiver, FakeSubscriber]:
    r = Receiver(CloudSettings(), client_id="c", persistent=False, stats=IngestStats())
    fake = FakeSubscriber()
    r._subscriber = fake  # type: ignore[assignment]
    return r, fake


async def test_acknowledgements_of_messages_arriving_apart_go_together_once_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receiver, "ACK_LINGER_S", 3600.0)
    r, fake = fake_receiver()
    accepted: list[int] = []

    async def accept(m: Publish) -> None:
        assert all(mid in accepted for ack in fake.acks for mid in ack)
        accepted.append(m.mid)

    task = asyncio.create_task(r.run(accept))
    for mid in (1, 2, 3):  # one at a time, each handed on before the next arrives
        r._on_message(message(1, mid), (1, mid, 1))
        await wait_for_async(lambda n=mid: len(accepted) == n, f"message {mid} handed on")
    assert fake.acks == []  # lingering for more
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert fake.acks == [[1, 2, 3]]  # handed on before the cancellation: acknowledged at once


async def test_acknowledgements_go_out_when_the_linger_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receiver, "ACK_LINGER_S", 0.0)
    r, fake = fake_receiver()

    async def accept(m: Publish) -> None:
        pass

    task = asyncio.create_task(r.run(accept))
    r._on_message(message(1, 5), (1, 5, 1))
    r._on_message(message(1, 6), (1, 6, 1))
    await wait_for_async(lambda: fake.acks, "the acknowledgements")
    assert fake.acks == [[5, 6]]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert fake.acks == [[5, 6]]


async def test_acknowledgements_go_before_the_consumer_waits_for_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receiver, "ACK_LINGER_S", 3600.0)
    r, fake = fake_receiver()
    room = asyncio.Event()
    room.set()
    seen: list[int] = []

    async def accept(m: Publish) -> None:
        seen.append(m.mid)
        if m.mid == 2:
            room.clear()  # the queue is full after this one

    task = asyncio.create_task(r.run(accept, room.is_set))
    for mid in (1, 2, 3):
        r._on_message(message(1, mid), (1, mid, 1))
    await wait_for_async(lambda: len(seen) == 3, "three messages handed on")
    assert fake.acks == [[1, 2]]  # before the third was handed on, not after the linger
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
