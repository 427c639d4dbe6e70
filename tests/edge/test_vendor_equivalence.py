"""The vendor decoder walks a profile's paths as one tree with compiled converters; it must
give exactly what looking up and converting each point on its own gives (`lookup`,
`convert`): the same values in the same order, the same qualities, the same count of bad
points, and the same refusal of a message in which no point is found."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import mqtt_devices
from edge.decode import Value
from edge.mqtt_devices import VendorDecoder, convert, lookup
from plantroom.errors import InvalidMessage
from plantroom.profiles import MqttPoint, MqttProfile, ProfileLibrary
from plantroom.schema import MAX_TS_MS, Quality

RECEIVED = 1_800_000_000_000
# This test is about the points; a message time ahead of the clock is refused before them by
# design (tests/edge/test_mqtt_devices.py), so here no generated time counts as ahead.
NO_SKEW_LIMIT_S = (MAX_TS_MS - RECEIVED) / 1000 + 1


def reference(
    profile: MqttProfile, doc: Any
) -> tuple[dict[str, Value], dict[str, Quality], int, int]:
    """Point by point: values, qualities, points found, points that failed to convert."""
    values: dict[str, Value] = {}
    quality: dict[str, Quality] = {}
    found = bad = 0
    for point in profile.points:
        raw = lookup(doc, point.steps)
        if raw is mqtt_devices._MISSING:
            values[point.name] = None
            quality[point.name] = Quality.UNAVAILABLE
            continue
        found += 1
        try:
            value = convert(point, raw)
        except ValueError:
            bad += 1
            value = None
        values[point.name] = value
        if value is None:
            quality[point.name] = Quality.UNAVAILABLE
    return values, quality, found, bad


def same(a: Value, b: Value) -> bool:
    """Equal and of the same type (True is not 1, 1.0 is not 1); NaN never occurs."""
    return type(a) is type(b) and a == b


def check(profile: MqttProfile, doc: Any) -> None:
    decoder = VendorDecoder("eq", profile, max_skew_s=NO_SKEW_LIMIT_S)
    values, quality, found, bad = reference(profile, doc)
    payload = json.dumps(doc).encode()
    if not found:
        with pytest.raises(InvalidMessage, match="none of the"):
            decoder.decode("t", payload, RECEIVED)
        return
    # what the reference saw is the JSON round trip of `doc`
    values, quality, found, bad = reference(profile, json.loads(payload))
    sample = decoder.decode("t", payload, RECEIVED)
    assert list(sample.values) == list(values)
    assert all(same(sample.values[k], v) for k, v in values.items()), (sample.values, values)
    assert sample.quality == quality and list(sample.quality) == list(quality)
    assert decoder.bad_points == bad


# -- the shipped lighting controller profile, against messages of every shape -------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
circuit_keys = st.sampled_from(["n", "on", "power_w", "lamps", "failed", "tripped", "burn_h"])
circuits = st.dictionaries(circuit_keys, json_scalars, max_size=7)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
lumen_docs = st.fixed_dictionaries(
    {},
    optional={
        "time": json_scalars,
        "mains_v": json_scalars,
        "circuits": st.one_of(st.lists(st.one_of(circuits, json_values), max_size=5), json_values),
    },
)


def lumen() -> MqttProfile:
    profile, _ = ProfileLibrary().get("lumen-lc4")
    assert isinstance(profile, MqttProfile)
    return profile


@settings(max_examples=300, deadline=None)
@given(doc=lumen_docs)
def test_lighting_controller_messages_decode_as_point_by_point(doc: dict[str, Any]) -> None:
    check(lumen(), doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"mains_v": 230, "circuits": [{"on": 1, "lamps": 12.0, "power_w": 5}]},
        {"mains_v": math.inf, "circuits": [{"on": 2, "lamps": 1.5, "tripped": None}]},
        {"mains_v": True, "circuits": {"0": {"on": False}}},
        {"circuits": []},
        {"mains_v": "230"},
    ],
)
def test_values_off_the_fast_path_decode_as_point_by_point(doc: dict[str, Any]) -> None:
    check(lumen(), doc)


# -- made-up profiles: shared prefixes, a point at another's prefix, scales, sentinels ------

steps = st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=2))
paths = st.lists(steps, min_size=1, max_size=3).map(lambda s: ".".join(map(str, s)))
points: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    path=paths,
    type=st.sampled_from(["bool", "int", "float", "string"]),
    scale=st.sampled_from([1.0, 1.0, 0.1, 10.0]),
    offset=st.sampled_from([0.0, 0.0, -40.0]),
    not_available=st.sampled_from([None, None, None, 65535, -1.0, "n/a"]),
)
tree_docs = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "0", "1"]), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(specs=st.lists(points, min_size=1, max_size=8), doc=tree_docs)
def test_any_profile_decodes_as_point_by_point(specs: list[dict[str, Any]], doc: Any) -> None:
    profile = MqttProfile(
        name="made-up",
        kind="lighting",
        protocol="mqtt",
        points=[MqttPoint(name=f"p{i}", **spec) for i, spec in enumerate(specs)],
    )
    if not isinstance(doc, dict | list):
        doc = {"a": doc}
    check(profile, doc)
