"""The agent's side of equipment that publishes its own MQTT messages.

`MqttDevices` turns a vendor message into samples; here each sample marks its equipment
heard from and online, a message delivered again is told from a new one by its timestamp,
and equipment that sends nothing for `stale_after` seconds is marked `stale`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from edge.equipment import ServedEquipment
from edge.mqtt_devices import MqttDevices
from edge.poller import Emit, SetStatus, now_ms
from edge.stop_signal import StopSignal
from plantroom.inventory import Mqtt


class VendorEquipment:
    """Vendor messages in, samples and statuses out, for the agent's MQTT equipment."""

    def __init__(
        self,
        devices: MqttDevices,
        equipment: Mapping[str, ServedEquipment],
        *,
        emit: Emit,
        set_status: SetStatus,
    ) -> None:
        self.devices = devices
        self._equipment = equipment
        self._emit = emit
        self._set_status = set_status

    def served(self) -> list[ServedEquipment]:
        """The equipment with an MQTT connection."""
        return [
            e
            for e in self._equipment.values()
            if isinstance(e.assignment.equipment.connection, Mqtt)
        ]

    def on_message(self, topic: str, payload: bytes, received_ms: int) -> None:
        for assignment, sample in self.devices.handle(topic, payload, received_ms):
            eq = self._equipment[assignment.equipment.id]
            eq.last_heard = time.monotonic()
            change = eq.availability.succeeded(received_ms)
            if change is not None:
                self._set_status(eq, change)
            if sample.ts in eq.recent_ts:
                # QoS 1 redelivery of a vendor message already taken (or a second message in
                # the same millisecond, which InfluxDB would merge into the first anyway): a
                # new seq at the same timestamp would overwrite the first sample's point
                eq.duplicates += 1
                continue
            eq.recent_ts.append(sample.ts)
            self._emit(eq, sample.ts, sample.values, sample.quality)

    async def watch_staleness(
        self, stop: StopSignal, stale_after: float, period: float, started_at: float
    ) -> None:
        """Every `period` seconds until `stop`, mark `stale` the equipment not heard from for
        `stale_after` seconds (counted from `started_at` for equipment never heard from)."""
        vendor = self.served()
        while not await stop.sleep(period):
            now = time.monotonic()
            for eq in vendor:
                heard = eq.last_heard if eq.last_heard is not None else started_at
                if now - heard >= stale_after:
                    reason = f"no message for {stale_after:.0f} s"
                    change = eq.availability.went_stale(reason, now_ms())
                    if change is not None:
                        self._set_status(eq, change)
