"""Hypothesis strategies for hostile telemetry: malformed payloads and bad topics.

Each malformed strategy is invalid *by construction* and carries the category it belongs to,
so a test can say which kind of input broke a consumer. `good_payload` and `telemetry_topic`
build messages every consumer must accept.
"""

from __future__ import annotations

import json
import string
import time
from typing import Any

from hypothesis import strategies as st

from plantroom.kinds import KINDS
from plantroom.schema import MAX_PAYLOAD_BYTES, MAX_POINTS, MAX_TS_MS, MIN_TS_MS

BASE_TS = 1_763_900_000_000
# a receiver refuses a time further ahead of its clock than the allowed skew
NOW_MS = int(time.time() * 1000)
SEGMENT_ALPHABET = string.ascii_lowercase + string.digits + "_-"

segments = st.text(SEGMENT_ALPHABET, min_size=1, max_size=12)
point_names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda n: n not in ("time", "seq")
)
point_values = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    st.none(),
)


def telemetry_topic(
    site: st.SearchStrategy[str] = segments, kind: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[str]:
    """A well-formed telemetry topic."""
    return st.builds(
        "plantroom/v1/{}/{}/{}/{}/telemetry".format,
        site,
        segments.filter(lambda b: b != "edge"),
        kind if kind is not None else st.sampled_from(KINDS),
        segments,
    )


@st.composite
def good_document(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "ts": draw(st.integers(MIN_TS_MS, NOW_MS)),
        "seq": draw(st.integers(0, 2**63 - 1)),
        "points": draw(st.dictionaries(point_names, point_values, min_size=1, max_size=8)),
    }


def good_payload() -> st.SearchStrategy[bytes]:
    return good_document().map(lambda doc: json.dumps(doc).encode())


# -- malformed payloads: (category, payload) ---------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _doc(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"ts": BASE_TS, "seq": 1, "points": {"a": 1}}
    doc.update(fields)
    return doc


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def invalid_json(draw: st.DrawFn) -> bytes:
    """Text that is not JSON: a good message cut short, or bytes that never were JSON."""
    good = draw(good_payload())
    cut = draw(st.integers(1, len(good) - 1))
    return draw(
        st.sampled_from(
            [
                good[:cut],
                good[:-1] + b",}",
                b"{" + good,
                good.replace(b'"', b"'"),
                b"{ts: 1, seq: 2}",
            ]
        )
    )


@st.composite
def wrong_types(draw: st.DrawFn) -> bytes:
    """A field of the wrong JSON type (never one a lax parse could turn into the right one)."""
    not_number = st.one_of(
        st.lists(json_scalars, max_size=3),
        st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
        st.text(string.ascii_letters, min_size=1, max_size=10),
        st.none(),
    )
    not_object = st.one_of(
        st.lists(json_scalars, max_size=3), st.text(max_size=10), st.integers(), st.none()
    )
    choice = draw(st.sampled_from(["ts", "seq", "points", "value", "quality", "top"]))
    if choice == "top":
        return _dump(draw(st.one_of(json_scalars, st.lists(json_values, max_size=4))))
    if choice in ("ts", "seq"):
        return _dump(_doc(**{choice: draw(not_number)}))
    if choice == "points":
        return _dump(_doc(points=draw(not_object)))
    if choice == "value":
        nested = st.one_of(
            st.lists(json_scalars, max_size=3), st.dictionaries(st.text(max_size=5), json_scalars)
        )
        return _dump(_doc(points={"a": draw(nested)}))
    bad_quality = st.text(max_size=10).filter(lambda q: q not in ("good", "stale", "unavailable"))
    return _dump(_doc(quality={"a": draw(st.one_of(bad_quality, st.integers(), not_object))}))


@st.composite
def non_finite(draw: st.DrawFn) -> bytes:
    literal = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"]))
    name = draw(point_names)
    return b'{"ts": %d, "seq": 1, "points": {"%s": %s}}' % (BASE_TS, name.encode(), literal)


@st.composite
def huge_numbers(draw: st.DrawFn) -> bytes:
    """Numbers out of range: for the timestamp, the sequence, or as a long run of digits."""
    if draw(st.booleans()):
        digits = b"9" * draw(st.integers(5000, 20_000))
        if draw(st.booleans()):
            return b'{"ts": %s, "seq": 1, "points": {"a": 1}}' % digits
        return b'{"ts": %d, "seq": -%s, "points": {"a": 1}}' % (BASE_TS, digits)
    if draw(st.booleans()):
        ts = draw(st.integers(min_value=MAX_TS_MS + 1) | st.integers(max_value=MIN_TS_MS - 1))
        return _dump(_doc(ts=ts))
    seq = st.integers(max_value=-1) | st.integers(min_value=2**63)
    return _dump(_doc(seq=draw(seq)))


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(300, 20_000))
    open_, close = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = open_ * depth + b"1" + close * depth
    where = draw(st.sampled_from(["top", "value"]))
    if where == "top":
        return inner
    return b'{"ts": %d, "seq": 1, "points": {"a": %s}}' % (BASE_TS, inner)


@st.composite
def unknown_fields(draw: st.DrawFn) -> bytes:
    doc = draw(good_document())
    name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in doc and n != "quality"))
    doc[name] = draw(json_values)
    return _dump(doc)


@st.composite
def oversized(draw: st.DrawFn) -> bytes:
    """Over MAX_PAYLOAD_BYTES (256 KiB): padding, one huge string, or too many points."""
    extra = draw(st.integers(1, 4096))
    how = draw(st.sampled_from(["padding", "string", "points"]))
    if how == "padding":
        body = _dump(_doc())
        return body + b" " * (MAX_PAYLOAD_BYTES - len(body) + extra)
    if how == "string":
        return _dump(_doc(points={"a": "x" * (MAX_PAYLOAD_BYTES + extra)}))
    points = {f"p{i}_{'x' * 300}": i for i in range(MAX_POINTS + 1 + extra // 8)}
    return _dump(_doc(points=points))


@st.composite
def bad_point_names(draw: st.DrawFn) -> bytes:
    name = draw(
        st.one_of(
            st.just(""),
            st.text(min_size=1, max_size=20).filter(lambda n: not _good_name(n)),
            st.from_regex(r"[a-z][a-z0-9_]{64,80}", fullmatch=True),
        )
    )
    return _dump(_doc(points={name: 1}))


def _good_name(name: str) -> bool:
    return (
        0 < len(name) <= 64
        and name[0] in string.ascii_lowercase
        and all(c in string.ascii_lowercase + string.digits + "_" for c in name)
    )


@st.composite
def non_utf8(draw: st.DrawFn) -> bytes:
    """Bytes that are not UTF-8: raw binary, or a bad byte inside a string value."""
    bad = draw(st.sampled_from([b"\xff", b"\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88"]))
    where = draw(st.sampled_from(["value", "name", "binary"]))
    if where == "binary":
        return bad + draw(st.binary(max_size=64))
    if where == "name":
        return b'{"ts": %d, "seq": 1, "points": {"a%s": 1}}' % (BASE_TS, bad)
    return b'{"ts": %d, "seq": 1, "points": {"a": "x%s"}}' % (BASE_TS, bad)


empty = st.sampled_from([b"", b" ", b"\n", b"{}", b"[]", b"null", b'""', _dump(_doc(points={}))])

CATEGORIES: dict[str, st.SearchStrategy[bytes]] = {
    "invalid_json": invalid_json(),
    "wrong_types": wrong_types(),
    "non_finite": non_finite(),
    "huge_numbers": huge_numbers(),
    "deep_nesting": deep_nesting(),
    "unknown_fields": unknown_fields(),
    "oversized": oversized(),
    "bad_point_names": bad_point_names(),
    "non_utf8": non_utf8(),
    "empty": empty,
}


def malformed_payload() -> st.SearchStrategy[tuple[str, bytes]]:
    """(category, payload) for a payload every consumer must reject."""
    return st.one_of(*(_labelled(name, strategy) for name, strategy in CATEGORIES.items()))


def _labelled(
    name: str, strategy: st.SearchStrategy[bytes]
) -> st.SearchStrategy[tuple[str, bytes]]:
    return strategy.map(lambda payload: (name, payload))


# -- bad topics -------------------------------------------------------------------------------

# topics a client can publish and the telemetry wildcard `plantroom/v1/+/+/+/+/telemetry`
# delivers, yet which no consumer may accept
subscribed_bad_topics = st.one_of(
    telemetry_topic(
        kind=st.text(SEGMENT_ALPHABET, min_size=1, max_size=12).filter(lambda k: k not in KINDS)
    ).map(lambda t: ("unknown_kind", t)),
    st.builds(
        "plantroom/v1/{}/edge/{}/{}/telemetry".format, segments, st.sampled_from(KINDS), segments
    ).map(lambda t: ("edge_building", t)),
    st.builds(
        "plantroom/v1/{}/{}/{}/{}/telemetry".format,
        st.sampled_from(["", "a\\", "a\\ b", "a\\,b", "a\\=b", "a\\\\b"]),
        segments,
        st.sampled_from(KINDS),
        segments,
    ).map(lambda t: ("bad_site_segment", t)),
    st.builds(
        "plantroom/v1/{}/{}/{}/{}/telemetry".format,
        segments,
        segments.filter(lambda b: b != "edge"),
        st.sampled_from(KINDS),
        st.sampled_from(["", "x\\", 'x\\"y']),
    ).map(lambda t: ("bad_equipment_segment", t)),
)

# anything else a consumer might be handed: wrong prefix, depth or leaf, control characters
any_bad_topics = st.one_of(
    subscribed_bad_topics,
    st.text(max_size=80).filter(lambda t: t.count("/") != 6).map(lambda t: ("wrong_depth", t)),
    st.builds(
        "{}/{}/{}/{}/{}/telemetry".format,
        st.text(max_size=10).filter(lambda p: p != "plantroom/v1"),
        segments,
        segments,
        st.sampled_from(KINDS),
        segments,
    ).map(lambda t: ("wrong_prefix", t)),
    st.builds(
        "plantroom/v1/{}/{}/{}/{}/{}".format,
        segments,
        segments,
        st.sampled_from(KINDS),
        segments,
        st.text(max_size=10).filter(lambda leaf: leaf not in ("telemetry", "status")),
    ).map(lambda t: ("wrong_leaf", t)),
    st.builds(
        "plantroom/v1/{}/{}/{}/{}/telemetry".format,
        st.text(st.characters(max_codepoint=0x7F, categories=["Cc"]), min_size=1, max_size=4),
        segments,
        st.sampled_from(KINDS),
        segments,
    ).map(lambda t: ("control_characters", t)),
)
