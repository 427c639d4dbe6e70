"""The gateway's validation path as one call, so a test can say what the gateway must do."""

from __future__ import annotations

from plantroom.errors import InvalidMessage
from plantroom.influx.lineprotocol import TelemetryEncoder
from plantroom.schema import parse_telemetry


def gateway_path(encoder: TelemetryEncoder, topic: str, payload: bytes) -> tuple[str, int] | str:
    """The line and its point count for a message, or the reason it is dead-lettered.

    The same steps as `Gateway._on_message`: topic → tag prefix, payload → Telemetry, and
    Telemetry → line. Anything but InvalidMessage / ValueError escapes to the caller.
    """
    try:
        encoder.prefix(topic)
        telemetry = parse_telemetry(topic, payload)
        return encoder.encode(topic, telemetry)
    except InvalidMessage as exc:
        assert exc.topic == topic
        return exc.reason
    except ValueError as exc:
        return str(exc)
