"""Property: whatever the line-protocol encoder writes, the real InfluxDB stores and returns
unchanged."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plantroom.influx.lineprotocol import (
    INT64_MAX,
    INT64_MIN,
    FieldValue,
    LineProtocolError,
    encode_line,
    escape_tag_value,
)
from plantroom.influx.parse import field_type
from stack.services import Influxd

pytestmark = pytest.mark.integration

BASE_TS = 1_763_900_000_000
TAG_KEYS = ("building", "equipment", "floor", "site")
# the characters line protocol escapes, plus the ones that tempt a naive encoder
SPECIALS = st.sampled_from([",", "=", " ", "\\", '"', "'", "#", "\t", "\x00", "ü", "中", "🚒"])
NAME_ALPHABET = st.one_of(SPECIALS, st.characters(codec="utf-8"))


def representable(name: str) -> bool:
    """Names the encoder accepts; the rest are refused (tested in the unit tests)."""
    try:
        escape_tag_value(name)
    except LineProtocolError:
        return False
    return True


names = st.text(NAME_ALPHABET, min_size=1, max_size=16).filter(representable)
field_keys = names.filter(lambda s: s != "time" and s not in TAG_KEYS and s != "extra")
field_values: st.SearchStrategy[FieldValue] = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(st.one_of(SPECIALS, st.just("\n"), st.characters(codec="utf-8")), max_size=40),
)
points = st.fixed_dictionaries(
    {
        "tags": st.fixed_dictionaries({k: names for k in TAG_KEYS}),
        "extra_tag": names,
        "fields": st.dictionaries(field_keys, field_values, min_size=1, max_size=6),
    }
)


@pytest.fixture(scope="module")
def lp_db(influxd: Influxd) -> Iterator[tuple[httpx.Client, str]]:
    db = f"lp_{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=influxd.url, timeout=10) as client:
        client.post("/query", params={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
        yield client, db


_examples = itertools.count()


def _same(stored: Any, sent: FieldValue) -> bool:
    """Equal values; the JSON answer writes an integral float such as 6.7e16 as an integer."""
    if isinstance(sent, bool) or isinstance(stored, bool):
        return stored is sent
    if isinstance(sent, float):
        return isinstance(stored, int | float) and float(stored) == sent
    return bool(stored == sent)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(points, min_size=1, max_size=3))
def test_encoded_lines_round_trip_through_influxdb(
    lp_db: tuple[httpx.Client, str], batch: list[dict[str, Any]]
) -> None:
    client, db = lp_db
    n = next(_examples)
    lines = []
    expected = []
    for i, point in enumerate(batch):
        measurement = f"lp test,{n} {i}"  # a comma and a space: escaped in the measurement
        tags = {**point["tags"], "extra": point["extra_tag"]}
        ts = BASE_TS + n * 10 + i
        lines.append(encode_line(measurement, tags, point["fields"], ts))
        expected.append((measurement, tags, point["fields"], ts))
    resp = client.post(
        "/write", params={"db": db, "precision": "ms"}, content="\n".join(lines).encode()
    )
    assert resp.status_code == 204, (resp.text, lines)

    for measurement, tags, fields, ts in expected:
        resp = client.get(
            "/query",
            params={"db": db, "q": f'SHOW FIELD KEYS FROM "{measurement}"'},
        )
        resp.raise_for_status()
        types = dict(resp.json()["results"][0]["series"][0]["values"])
        assert types == {k: field_type(v) for k, v in fields.items()}, lines
        resp = client.get(
            "/query",
            params={"db": db, "epoch": "ms", "q": f'SELECT * FROM "{measurement}"'},
        )
        resp.raise_for_status()
        series = resp.json()["results"][0]["series"]
        assert len(series) == 1 and series[0]["name"] == measurement
        rows = [dict(zip(series[0]["columns"], v, strict=True)) for v in series[0]["values"]]
        assert len(rows) == 1, rows
        row = rows[0]
        assert row.pop("time") == ts
        for key, value in tags.items():
            assert row.pop(key) == value, (key, lines)
        for key, value in fields.items():
            stored = row.pop(key)
            assert _same(stored, value), (key, stored, value, lines)
        assert row == {}, row
