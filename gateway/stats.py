"""The gateway's counters, as written to `plantroom_health` and served on `/metrics`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from plantroom.influx.lineprotocol import FieldValue


@dataclass(slots=True)
class GatewayStats:
    """Counters since start (gauges say so)."""

    messages_in: int = 0
    """MQTT messages delivered to the gateway."""
    points_in: int = 0
    """Point values (nulls excluded) in messages that passed validation."""
    points_out: int = 0
    """Point values InfluxDB has stored (directly or replayed from the disk buffer)."""
    lines_written: int = 0
    """Lines InfluxDB has stored, health lines included."""
    batches: int = 0
    """Batches InfluxDB has stored (directly or replayed)."""
    batch_latency_ms: float = 0.0
    """Gauge: how long the most recent batch took to write, in milliseconds."""
    buffer_depth: int = 0
    """Gauge: lines waiting in the disk buffer."""
    buffered_lines: int = 0
    """Lines spilled to the disk buffer."""
    buffer_dropped: int = 0
    """Lines the disk buffer dropped at its size limit."""
    buffer_full: int = 0
    """Gauge: 1 while a batch waits, unacknowledged, because the disk buffer's disk is full."""
    buffer_full_errors: int = 0
    """Failed appends to the disk buffer because its disk was full."""
    edge_health_in: int = 0
    """Edge agents' self-health messages that passed validation."""
    dead_letters: int = 0
    """Messages and lines dead-lettered."""
    write_errors: int = 0
    """Failed write attempts (InfluxDB down, 5xx, timeouts)."""
    acked: int = 0
    """Messages acknowledged to the broker."""

    def snapshot(self) -> dict[str, int | float]:
        return asdict(self)

    def health_fields(self) -> dict[str, FieldValue]:
        """The fields of one `plantroom_health` line."""
        return {
            "points_in": self.points_in,
            "points_out": self.points_out,
            "lines_written": self.lines_written,
            "batches": self.batches,
            "batch_latency_ms": float(self.batch_latency_ms),
            "buffer_depth": self.buffer_depth,
            "dead_letters": self.dead_letters,
            "write_errors": self.write_errors,
            "messages_in": self.messages_in,
            "buffer_dropped": self.buffer_dropped,
            "edge_health_in": self.edge_health_in,
            "buffer_full": self.buffer_full,
            "buffer_full_errors": self.buffer_full_errors,
        }


_GAUGES = {"batch_latency_ms", "buffer_depth", "buffer_full"}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(stats: GatewayStats, instance: str) -> str:
    """The counters in the Prometheus text exposition format (version 0.0.4)."""
    out: list[str] = []
    labels = f'{{instance="{_label(instance)}"}}'
    for name, value in stats.snapshot().items():
        gauge = name in _GAUGES
        metric = f"plantroom_gateway_{name}" + ("" if gauge else "_total")
        out.append(f"# TYPE {metric} {'gauge' if gauge else 'counter'}")
        out.append(f"{metric}{labels} {value}")
    return "\n".join(out) + "\n"
