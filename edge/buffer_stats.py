"""The edge buffer's figures, as its health report shows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BufferStats:
    depth: int
    max_samples: int
    dropped_measurements: int
    refused_measurements: int
    dropped_keepers: int
    oldest_ts: int | None
    held: int = 0
    """Samples waiting in memory because the disk is full (included in `depth`)."""
    disk_full: bool = False
    disk_full_events: int = 0

    @property
    def dropped(self) -> int:
        return self.dropped_measurements + self.refused_measurements + self.dropped_keepers
