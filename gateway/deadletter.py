"""The dead-letter log: what the gateway could not ingest, and why.

One JSON object per line in `dead-letters.jsonl` under the gateway's buffer directory:

    {"time": "2025-01-01T00:00:00.000Z", "kind": "message", "topic": "...",
     "reason": "points.flow: Input should be a valid number", "payload": "{\\"ts\\": ..."}
    {"time": "...", "kind": "line", "reason": "field type conflict: ...", "line": "pump,..."}

`message` entries are MQTT messages that failed validation (bad topic, bad JSON, schema,
a value line protocol cannot carry); `line` entries are lines InfluxDB refused. Payloads
and lines are cut to an excerpt. The file is bounded: past `max_bytes` it is renamed to
`dead-letters.jsonl.1` (replacing the previous one) and a new file is started.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

FILE_NAME = "dead-letters.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DeadLetters:
    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 16 * 1024 * 1024,
        excerpt_chars: int = 512,
        warn_every_s: float = 10.0,
    ) -> None:
        self.path = Path(directory) / FILE_NAME
        self.max_bytes = max_bytes
        self.excerpt_chars = excerpt_chars
        self.count = 0
        self._warn_every_s = warn_every_s
        self._last_warning = -float("inf")
        self._unlogged = 0
        self._file: IO[str] | None = None
        self._size = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held until close()
        self._size = self.path.stat().st_size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _cut(self, text: str) -> str:
        return text if len(text) <= self.excerpt_chars else text[: self.excerpt_chars] + "…"

    def _write(self, entry: dict[str, Any]) -> None:
        self.count += 1
        text = json.dumps(entry, ensure_ascii=False) + "\n"
        if self._file is not None:
            if self._size + len(text) > self.max_bytes and self._size:
                self._file.close()
                self.path.replace(self.path.with_name(FILE_NAME + ".1"))
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
                self._size = 0
            self._file.write(text)
            self._file.flush()
            self._size += len(text.encode())
        now = time.monotonic()
        if now - self._last_warning >= self._warn_every_s:
            more = f" (+{self._unlogged} more since the last warning)" if self._unlogged else ""
            log.warning(
                "dead letter: %s: %s%s; see %s",
                entry.get("topic") or "line",
                entry["reason"],
                more,
                self.path,
            )
            self._last_warning = now
            self._unlogged = 0
        else:
            self._unlogged += 1
            log.debug("dead letter: %s", entry)

    def message(self, topic: str, reason: str, payload: bytes | bytearray) -> None:
        """An MQTT message the gateway could not ingest."""
        text = bytes(payload[: self.excerpt_chars * 4]).decode("utf-8", "replace")
        self._write(
            {
                "time": _now(),
                "kind": "message",
                "topic": topic,
                "reason": reason,
                "payload": self._cut(text),
            }
        )

    def line(self, line: str, reason: str) -> None:
        """A line InfluxDB refused."""
        self._write({"time": _now(), "kind": "line", "reason": reason, "line": self._cut(line)})
