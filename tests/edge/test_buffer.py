"""The store-and-forward buffer: order, acknowledgement, drop policy, seq across restarts."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.buffer import SampleBuffer
from edge.telemetry_encoding import encode_telemetry
from plantroom.errors import ConfigError
from plantroom.schema import MAX_STRING, MAX_TS_MS, MIN_TS_MS, Quality, Telemetry, parse_telemetry

TOPIC = "plantroom/v1/s/b/pump/p1/telemetry"
T0 = 1_700_000_000_000


def buf(tmp_path: Path, max_samples: int = 1000, **kw: object) -> SampleBuffer:
    return SampleBuffer(tmp_path / "buffer.sqlite", max_samples, commit_interval_s=0, **kw).open()  # type: ignore[arg-type]


def seqs(b: SampleBuffer, equipment: str | None = None) -> list[int]:
    return [s.seq for s in b.pending(0, 10_000) if equipment is None or s.equipment == equipment]


def test_samples_come_out_in_order_with_their_payload(tmp_path: Path) -> None:
    with buf(tmp_path) as b:
        for i in range(5):
            b.append("p1", TOPIC, T0 + i, {"speed": i, "flow": None}, {"flow": Quality.UNAVAILABLE})
        out = b.pending(0, 100)
        assert [s.seq for s in out] == [0, 1, 2, 3, 4]
        assert [s.ts for s in out] == [T0 + i for i in range(5)]
        msg = parse_telemetry(out[2].topic, out[2].payload)
        assert (msg.ts, msg.seq, msg.points, msg.quality) == (
            T0 + 2,
            2,
            {"speed": 2, "flow": None},
            {"flow": Quality.UNAVAILABLE},
        )
        assert b.pending(out[1].id, 2) == out[2:4]


def test_seq_is_per_equipment(tmp_path: Path) -> None:
    with buf(tmp_path) as b:
        for i in range(3):
            b.append("p1", TOPIC, T0 + i, {"a": 1})
            b.append("p2", TOPIC.replace("p1", "p2"), T0 + i, {"a": 1})
        assert seqs(b, "p1") == [0, 1, 2]
        assert seqs(b, "p2") == [0, 1, 2]


def test_ack_deletes_only_that_sample(tmp_path: Path) -> None:
    with buf(tmp_path) as b:
        for i in range(4):
            b.append("p1", TOPIC, T0 + i, {"a": i})
        _first, second, *_ = b.pending()
        b.ack(second.id)
        assert seqs(b) == [0, 2, 3]
        assert b.depth == 3
        b.ack(second.id)  # a duplicate acknowledgement changes nothing
        assert b.depth == 3


def test_seq_and_unsent_samples_survive_a_restart(tmp_path: Path) -> None:
    with buf(tmp_path) as b:
        for i in range(3):
            b.append("p1", TOPIC, T0 + i, {"a": i})
        b.ack(b.pending()[0].id)
    with buf(tmp_path) as b:
        assert seqs(b) == [1, 2]
        assert b.append("p1", TOPIC, T0 + 9, {"a": 9}) == 3
        assert b.append("p9", TOPIC, T0 + 9, {"a": 9}) == 0
        assert seqs(b) == [1, 2, 3, 0]
        assert b.depth == 4


def test_seq_continues_after_everything_was_sent(tmp_path: Path) -> None:
    with buf(tmp_path) as b:
        for i in range(3):
            b.append("p1", TOPIC, T0 + i, {"a": i})
        for s in b.pending():
            b.ack(s.id)
        assert b.depth == 0
    with buf(tmp_path) as b:
        assert b.append("p1", TOPIC, T0, {"a": 0}) == 3


def test_only_committed_samples_are_handed_out(tmp_path: Path) -> None:
    commits: list[int] = []
    b = SampleBuffer(tmp_path / "b.sqlite", 1000, commit_interval_s=3600).open()
    b.on_commit = lambda: commits.append(b.committed_id)
    try:
        b.append("p1", TOPIC, T0, {"a": 1})
        assert b.pending() == []
        b.commit()
        assert [s.seq for s in b.pending()] == [0]
        assert len(commits) == 1
        b.commit()  # nothing new: no notification
        assert len(commits) == 1
    finally:
        b.close()


def test_uncommitted_samples_are_lost_on_a_crash_but_seq_stays_consistent(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    b = SampleBuffer(path, 1000, commit_interval_s=3600).open()
    b.append("p1", TOPIC, T0, {"a": 1})
    b.commit()
    b.append("p1", TOPIC, T0 + 1, {"a": 2})
    # a crash: the process dies without commit or close
    b.db.close()
    with SampleBuffer(path, 1000).open() as again:
        assert seqs(again) == [0]
        assert again.append("p1", TOPIC, T0 + 2, {"a": 3}) == 1


def test_full_buffer_drops_the_oldest_measurement_first(tmp_path: Path) -> None:
    with buf(tmp_path, max_samples=5) as b:
        b.append("p1", TOPIC, T0, {"alarm": "dry_run"}, keep=True)  # seq 0
        for i in range(1, 5):
            b.append("p1", TOPIC, T0 + i, {"speed": i})  # seq 1..4
        b.append("p1", TOPIC, T0 + 5, {"speed": 5})  # drops seq 1
        b.append("p1", TOPIC, T0 + 6, {"alarm": "none"}, keep=True)  # drops seq 2
        assert seqs(b) == [0, 3, 4, 5, 6]
        stats = b.stats()
        assert stats.depth == 5
        assert stats.dropped_measurements == 2
        assert stats.oldest_ts == T0


def test_alarm_samples_are_never_dropped_for_measurements(tmp_path: Path) -> None:
    with buf(tmp_path, max_samples=3) as b:
        for i in range(3):
            b.append("p1", TOPIC, T0 + i, {"alarm": i}, keep=True)
        seq = b.append("p1", TOPIC, T0 + 3, {"speed": 1})
        assert seq == 3  # the seq is used up, so the loss shows as a gap downstream
        assert seqs(b) == [0, 1, 2]
        assert b.stats().refused_measurements == 1
        b.append("p1", TOPIC, T0 + 4, {"alarm": 9}, keep=True)  # alarms may exceed max_samples
        assert seqs(b) == [0, 1, 2, 4]
        assert b.stats().dropped == 1


def test_alarm_samples_stop_at_the_hard_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with buf(tmp_path, max_samples=2, hard_limit_factor=2.0) as b:
        for i in range(6):
            b.append("p1", TOPIC, T0 + i, {"alarm": i}, keep=True)
        assert seqs(b) == [2, 3, 4, 5]
        assert b.stats().dropped_keepers == 2
    assert any(r.levelname == "ERROR" and "hard limit" in r.message for r in caplog.records)


def test_drop_counts_persist_and_drops_are_logged_sparingly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with buf(tmp_path, max_samples=2) as b:
        for i in range(25):
            b.append("p1", TOPIC, T0 + i, {"speed": i})
        assert b.stats().dropped_measurements == 23
        assert seqs(b) == [23, 24]
    logged = [r for r in caplog.records if "buffer full" in r.message]
    assert [r.message.split("(")[1] for r in logged] == ["1 so far)", "10 so far)"]
    with buf(tmp_path, max_samples=2) as b:
        assert b.stats().dropped_measurements == 23


def test_wal_mode_and_file_layout(tmp_path: Path) -> None:
    with buf(tmp_path) as b:
        b.append("p1", TOPIC, T0, {"a": 1})
        mode = b.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    db = sqlite3.connect(tmp_path / "buffer.sqlite")
    try:
        ((payload,),) = db.execute("SELECT payload FROM samples").fetchall()
        assert json.loads(payload) == {"ts": T0, "seq": 0, "points": {"a": 1}}
    finally:
        db.close()


def test_an_unreadable_buffer_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with SampleBuffer(path, 1000).open() as b:
        assert b.depth == 0
        assert b.append("p1", TOPIC, T0, {"a": 1}) == 0
    assert len(list(tmp_path.glob("buffer.sqlite.corrupt-*"))) == 1


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_samples"):
        SampleBuffer(tmp_path / "b", 0)
    with pytest.raises(ValueError, match="synchronous"):
        SampleBuffer(tmp_path / "b", 10, synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not open"):
        SampleBuffer(tmp_path / "b", 10).pending()


def test_a_buffer_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot open the edge buffer"):
        SampleBuffer(blocker / "buffer.sqlite", 1000).open()


# -- the payload encoder -------------------------------------------------------------------

_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),  # the contract: signed 64-bit
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(
    ts=st.integers(MIN_TS_MS, MAX_TS_MS),
    seq=st.integers(0, 2**40),
    points=st.dictionaries(_names, _values, min_size=1, max_size=8),
    quality=st.none() | st.dictionaries(_names, st.sampled_from(list(Quality)), max_size=3),
)
def test_encoded_payload_is_the_models_byte_for_byte(
    ts: int,
    seq: int,
    points: dict[str, Any],
    quality: dict[str, Quality] | None,
) -> None:
    model = Telemetry(ts=ts, seq=seq, points=points, quality=quality or None)
    assert encode_telemetry(ts, seq, points, quality) == model.to_json()


@pytest.mark.parametrize(
    ("ts", "points", "quality"),
    [
        (T0, {"a": float("nan")}, None),
        (T0, {"a": float("inf")}, None),
        (T0, {"Bad": 1}, None),
        (T0, {}, None),
        (T0, {"a": "x" * (MAX_STRING + 1)}, None),
        (1, {"a": 1}, None),
        (T0, {"a": 1}, {"a": "broken"}),
    ],
)
def test_encoder_rejects_what_the_model_rejects(
    ts: int, points: dict[str, Any], quality: dict[str, Any] | None
) -> None:
    with pytest.raises(ValidationError):
        encode_telemetry(ts, 0, points, quality)


def test_encoder_takes_what_the_model_coerces() -> None:
    assert encode_telemetry(T0, 0, {"a": 1}, {"a": "stale"}) == (  # type: ignore[dict-item]
        Telemetry(ts=T0, seq=0, points={"a": 1}, quality={"a": Quality.STALE}).to_json()
    )


def test_seqs_are_stored_with_the_samples_commit(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite"
    b = SampleBuffer(path, 1000, commit_interval_s=60).open()
    b.append("p1", TOPIC, T0, {"a": 1})
    b.append("p1", TOPIC, T0 + 1, {"a": 2})
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM seqs").fetchone() == (0,)
    b.commit()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT equipment, next_seq FROM seqs").fetchall() == [("p1", 2)]
    b.close()
