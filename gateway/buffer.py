"""The disk buffer: batches of line protocol kept on disk while InfluxDB cannot take them.

Batches are appended to numbered segment files (`seg-000000000001.plb`, …) and replayed
oldest first. Each record is

    PLB1 <crc32 hex> <payload bytes> <lines>\\n<payload>

where the payload is JSON `{"l": [line, …], "p": [points per line, …]}` (a line may hold a
newline inside a string field, so records are length-framed, not newline-framed). Every
append is flushed and fsync'd before it returns: a batch the buffer has taken survives a
crash of the gateway or of the machine.

The buffer is bounded by `max_bytes`. Past the limit the oldest segments are deleted and
their lines counted in `dropped_lines` (and logged): the newest data is kept.

A segment is deleted once every record in it has been replayed. Replay progress is kept in
memory only: after a restart a half-replayed segment is replayed again from its start,
which is harmless because InfluxDB writes are idempotent.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from plantroom.errors import ConfigError, PlantroomError

log = logging.getLogger(__name__)

MAGIC = b"PLB1"
HEADER_MAX = 64
SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".plb"


class BufferCorrupt(Exception):
    """A record that cannot be read back (torn write, bit rot)."""


class DiskBufferError(PlantroomError):
    """The disk buffer cannot store a batch (disk full, no permission). Nothing of the batch
    is acknowledged: on a full disk the gateway holds it and retries (`disk_full`), on any
    other error it stops, and the broker redelivers the batch after a restart."""

    @property
    def disk_full(self) -> bool:
        cause = self.__cause__
        return isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass(slots=True)
class _Segment:
    number: int
    path: Path
    size: int = 0
    lines: int = 0
    read_offset: int = 0
    read_lines: int = 0
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class BufferedBatch:
    """One record read back from the buffer; hand it to `commit()` once it is written."""

    lines: list[str]
    points: list[int]
    segment: _Segment = field(repr=False)
    offset: int
    end: int


def _encode(lines: Sequence[str], points: Sequence[int]) -> bytes:
    payload = json.dumps(
        {"l": list(lines), "p": list(points)}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    header = b"%s %08x %d %d\n" % (MAGIC, zlib.crc32(payload), len(payload), len(lines))
    return header + payload


def _read_header(f: IO[bytes]) -> tuple[int, int, int, int] | None:
    """(crc, payload length, lines, header length) of the record at the file position."""
    raw = f.readline(HEADER_MAX)
    if not raw:
        return None
    parts = raw.split()
    if not raw.endswith(b"\n") or len(parts) != 4 or parts[0] != MAGIC:
        raise BufferCorrupt(f"bad record header {raw[:HEADER_MAX]!r}")
    try:
        return int(parts[1], 16), int(parts[2]), int(parts[3]), len(raw)
    except ValueError as exc:
        raise BufferCorrupt(f"bad record header {raw!r}") from exc


class DiskBuffer:
    """Bounded, crash-safe FIFO of line-protocol batches in one directory."""

    def __init__(
        self, directory: Path, *, max_bytes: int, segment_bytes: int | None = None
    ) -> None:
        if max_bytes < 1:
            raise ValueError("the disk buffer needs max_bytes >= 1")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(64 * 1024, min(16 * 1024 * 1024, max_bytes // 8))
        self.dropped_lines = 0
        self.full = False  # the last append failed on a full disk
        self.full_errors = 0
        self._segments: list[_Segment] = []
        self._writer: IO[bytes] | None = None
        self._lock: IO[bytes] | None = None
        self._peeked: BufferedBatch | None = None
        self._next_number = 1

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Take the directory (one gateway per directory) and index what a previous run left."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = open(self.directory / "lock", "wb")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise ConfigError(
                f"gateway buffer directory {self.directory} is in use by another gateway; give "
                f"each replica its own PLANTROOM_GATEWAY_ID or PLANTROOM_GATEWAY_BUFFER_DIR"
            ) from exc
        self._lock = lock
        for path in sorted(self.directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}")):
            try:
                number = int(path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)])
            except ValueError:
                log.warning("ignoring unexpected file %s in the gateway buffer", path)
                continue
            segment = _Segment(number, path)
            self._index(segment)
            if segment.lines:
                self._segments.append(segment)
            else:
                path.unlink(missing_ok=True)
            self._next_number = max(self._next_number, number + 1)
        if self._segments:
            log.info(
                "gateway buffer %s holds %d lines from a previous run; replaying",
                self.directory,
                self.depth_lines,
            )

    def _index(self, segment: _Segment) -> None:
        """Count the whole records of a segment; cut off a torn tail."""
        good = 0
        lines = 0
        with open(segment.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            while True:
                try:
                    header = _read_header(f)
                except BufferCorrupt as exc:
                    log.error("gateway buffer %s: %s at byte %d", segment.path, exc, good)
                    break
                if header is None:
                    break
                _, length, count, header_len = header
                if good + header_len + length > size:
                    log.warning("gateway buffer %s: torn last record cut off", segment.path)
                    break
                f.seek(length, os.SEEK_CUR)
                good += header_len + length
                lines += count
        if good < size:
            with open(segment.path, "r+b") as f:
                f.truncate(good)
        segment.size = good
        segment.lines = lines

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- state ----------------------------------------------------------------------------

    @property
    def depth_lines(self) -> int:
        return sum(s.lines - s.read_lines for s in self._segments)

    @property
    def depth_bytes(self) -> int:
        return sum(s.size - s.read_offset for s in self._segments)

    @property
    def segments(self) -> int:
        return len(self._segments)

    @property
    def has_data(self) -> bool:
        return any(s.read_offset < s.size for s in self._segments)

    # -- writing --------------------------------------------------------------------------

    def _rotate(self) -> _Segment:
        if self._writer is not None:
            self._writer.close()
        number = self._next_number
        self._next_number += 1
        name = f"{SEGMENT_PREFIX}{number:012d}{SEGMENT_SUFFIX}"
        segment = _Segment(number, self.directory / name)
        self._writer = open(segment.path, "ab")  # noqa: SIM115 - kept open for appends
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._segments.append(segment)
        return segment

    def append(self, lines: Sequence[str], points: Sequence[int]) -> None:
        """Store one batch durably (fsync'd). Past the limit the oldest data is dropped."""
        if not lines:
            return
        if len(points) != len(lines):
            raise ValueError("append needs one point count per line")
        record = _encode(lines, points)
        current = self._segments[-1] if self._segments and self._writer is not None else None
        try:
            if current is None or (
                current.size and current.size + len(record) > self.segment_bytes
            ):
                current = self._rotate()
            assert self._writer is not None
            self._writer.write(record)
            self._writer.flush()
            os.fsync(self._writer.fileno())
        except OSError as exc:
            if current is not None:
                self._repair(current)
            raise DiskBufferError(
                f"cannot store a batch in the gateway buffer {self.directory}: {exc}"
            ) from exc
        current.size += len(record)
        current.lines += len(lines)
        self._enforce_limit()

    def offer(self, lines: Sequence[str], points: Sequence[int], *, raise_full: bool) -> bool:
        """`append`, but False while the disk is full (logged once per episode, counted in
        `full_errors`) and True once stored. Any other error, and a full disk with
        `raise_full`, raises DiskBufferError."""
        try:
            self.append(lines, points)
        except DiskBufferError as exc:
            if not exc.disk_full or raise_full:
                raise
            self.full_errors += 1
            if not self.full:
                self.full = True
                log.error("%s; holding the batch unacknowledged until there is room", exc)
            return False
        if self.full:
            self.full = False
            log.warning("the gateway buffer %s has room again", self.directory)
        return True

    def clear_full(self) -> None:
        """A batch held for the full disk went to InfluxDB directly: none waits any more."""
        if self.full:
            self.full = False
            log.warning("a batch held for the full disk of %s went to InfluxDB", self.directory)

    def _repair(self, segment: _Segment) -> None:
        """After a failed append: cut the segment back to its last whole record."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        try:
            with open(segment.path, "r+b") as f:
                f.truncate(segment.size)
        except OSError:
            log.exception("could not repair gateway buffer segment %s", segment.path)

    def _enforce_limit(self) -> None:
        while self._segments and sum(s.size for s in self._segments) > self.max_bytes:
            oldest = self._segments[0]
            lost = oldest.lines - oldest.read_lines
            self.dropped_lines += lost
            log.error(
                "gateway buffer %s is over its limit of %d bytes: dropped the oldest %d lines "
                "(%d dropped so far)",
                self.directory,
                self.max_bytes,
                lost,
                self.dropped_lines,
            )
            self._delete(oldest)

    def _delete(self, segment: _Segment) -> None:
        if self._segments and self._segments[-1] is segment and self._writer is not None:
            self._writer.close()
            self._writer = None
        segment.deleted = True
        self._segments.remove(segment)
        segment.path.unlink(missing_ok=True)
        if self._peeked is not None and self._peeked.segment is segment:
            self._peeked = None

    # -- replay ---------------------------------------------------------------------------

    def peek(self) -> BufferedBatch | None:
        """The oldest batch not yet replayed, or None when the buffer is empty."""
        if self._peeked is not None:
            return self._peeked
        while self._segments:
            segment = self._segments[0]
            if segment.read_offset >= segment.size:
                if self._writer is not None and segment is self._segments[-1]:
                    return None
                self._delete(segment)
                continue
            try:
                batch = self._read(segment)
            except (BufferCorrupt, OSError, ValueError) as exc:
                lost = segment.lines - segment.read_lines
                self.dropped_lines += lost
                log.error(
                    "gateway buffer %s: unreadable record at byte %d (%s); %d lines lost",
                    segment.path,
                    segment.read_offset,
                    exc,
                    lost,
                )
                self._delete(segment)
                continue
            self._peeked = batch
            return batch
        return None

    def _read(self, segment: _Segment) -> BufferedBatch:
        with open(segment.path, "rb") as f:
            f.seek(segment.read_offset)
            header = _read_header(f)
            if header is None:
                raise BufferCorrupt("record missing")
            crc, length, count, header_len = header
            payload = f.read(length)
        if len(payload) != length or zlib.crc32(payload) != crc:
            raise BufferCorrupt("checksum mismatch")
        data = json.loads(payload)
        lines, points = data["l"], data["p"]
        if len(lines) != count or len(points) != count:
            raise BufferCorrupt("line count mismatch")
        end = segment.read_offset + header_len + length
        return BufferedBatch(lines, points, segment, segment.read_offset, end)

    def commit(self, batch: BufferedBatch) -> None:
        """Mark a peeked batch as written; a fully replayed segment is deleted."""
        segment = batch.segment
        if self._peeked is batch:
            self._peeked = None
        if segment.deleted or segment.read_offset != batch.offset:
            return
        segment.read_offset = batch.end
        segment.read_lines += len(batch.lines)
        if segment.read_offset >= segment.size:
            self._delete(segment)
