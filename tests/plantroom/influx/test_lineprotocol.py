"""Line protocol: escaping, typed fields, the telemetry encoder and reading lines back."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantroom.influx.lineprotocol import (
    INT64_MAX,
    INT64_MIN,
    FieldValue,
    LineProtocolError,
    TelemetryEncoder,
    encode_line,
    escape_field_key,
    escape_measurement,
    escape_tag_key,
    escape_tag_value,
    format_field_value,
)
from plantroom.influx.parse import parse_line
from plantroom.inventory import Inventory
from plantroom.schema import Telemetry

TOPIC = "plantroom/v1/harbour/tower-a/pump/pump-a1/telemetry"


@pytest.mark.parametrize(
    ("escape", "raw", "written"),
    [
        (escape_measurement, "pump", "pump"),
        (escape_measurement, "my pump", "my\\ pump"),
        (escape_measurement, "a,b", "a\\,b"),
        (escape_measurement, "a=b", "a=b"),  # an equals sign needs no escape in a measurement
        (escape_measurement, 'say "hi"', 'say\\ "hi"'),
        (escape_tag_key, "zone name", "zone\\ name"),
        (escape_tag_key, "k=v,w", "k\\=v\\,w"),
        (escape_tag_value, "Tower A", "Tower\\ A"),
        (escape_tag_value, "a=b", "a\\=b"),
        (escape_tag_value, "a,b", "a\\,b"),
        (escape_tag_value, 'q"uote', 'q"uote'),
        (escape_tag_value, "c:\\temp", "c:\\temp"),  # backslash before an ordinary character
        (escape_tag_value, "中文 ü", "中文\\ ü"),
        (escape_field_key, "flow rate", "flow\\ rate"),
        (escape_field_key, "a=b,c", "a\\=b\\,c"),
    ],
)
def test_escaping_table(escape: Any, raw: str, written: str) -> None:
    assert escape(raw) == written


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (0, "0i"),
        (-42, "-42i"),
        (INT64_MAX, f"{INT64_MAX}i"),
        (INT64_MIN, f"{INT64_MIN}i"),
        (1.5, "1.5"),
        (3.0, "3.0"),  # an integral float keeps its decimal point
        (-0.0, "-0.0"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-07"),
        (True, "true"),
        (False, "false"),
        ("auto", '"auto"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\dir\\", '"C:\\\\dir\\\\"'),  # a trailing backslash is safe inside quotes
        ("two\nlines", '"two\nlines"'),
    ],
)
def test_typed_field_values(value: FieldValue, written: str) -> None:
    assert format_field_value(value) == written


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: format_field_value(2**63), "64 bits"),
        (lambda: format_field_value(INT64_MIN - 1), "64 bits"),
        (lambda: format_field_value(float("nan")), "finite"),
        (lambda: format_field_value(float("inf")), "finite"),
        (lambda: escape_tag_value(""), "empty"),
        (lambda: escape_tag_value("ends\\"), "backslash"),
        (lambda: escape_tag_value("a\\ b"), "backslash"),
        (lambda: escape_tag_value("a\\,b"), "backslash"),
        (lambda: escape_tag_value("a\\\\b"), "backslash"),
        (lambda: escape_tag_value('a\\"b'), "backslash"),
        (lambda: escape_tag_value("two\nlines"), "control character"),
        (lambda: escape_tag_value("tab\there"), "control character"),
        (lambda: escape_field_key("time"), "reserved"),
        (lambda: escape_tag_key("time"), "reserved"),
        (lambda: escape_field_key(""), "empty"),
        (lambda: escape_measurement("#comment"), "comment"),
        (lambda: encode_line("m", {}, {"a": None}), "at least one field"),
    ],
)
def test_what_line_protocol_cannot_carry_is_refused_with_a_reason(call: Any, message: str) -> None:
    with pytest.raises(LineProtocolError, match=message):
        call()


def test_encode_line_sorts_tags_omits_nulls_and_writes_the_timestamp() -> None:
    line = encode_line(
        "pump",
        {"site": "s 1", "building": "b,1"},
        {"speed": 1450, "flow": 12.5, "on": True, "mode": "auto", "gone": None},
        1_763_900_000_000,
    )
    assert line == (
        'pump,building=b\\,1,site=s\\ 1 speed=1450i,flow=12.5,on=true,mode="auto" 1763900000000'
    )


def sample(points: dict[str, Any], seq: int = 7, ts: int = 1_763_900_000_123) -> Telemetry:
    return Telemetry(ts=ts, seq=seq, points=points)


def test_telemetry_encoder_writes_one_typed_line_with_seq_and_tags() -> None:
    encoder = TelemetryEncoder()
    line, points = encoder.encode(
        TOPIC, sample({"speed": 1450, "flow": 12.5, "running": True, "mode": "auto", "x": None})
    )
    assert line == (
        "pump,building=tower-a,equipment=pump-a1,site=harbour "
        'speed=1450i,flow=12.5,running=true,mode="auto",seq=7i 1763900000123'
    )
    assert points == 4


class Mode(enum.StrEnum):
    AUTO = "auto"


class Level(enum.IntEnum):
    HIGH = 3


class Ratio(float):
    pass


def test_subclassed_values_are_written_as_their_plain_type() -> None:
    # validation yields plain types; a Telemetry built in code may hold subclasses
    built = Telemetry.model_construct(
        ts=1_763_900_000_123,
        seq=7,
        points={"mode": Mode.AUTO, "level": Level.HIGH, "ratio": Ratio(0.5), "on": True},
    )
    line, points = TelemetryEncoder().encode(TOPIC, built)
    assert line.endswith(' mode="auto",level=3i,ratio=0.5,on=true,seq=7i 1763900000123')
    assert points == 4
    with pytest.raises(LineProtocolError, match="64 bits"):
        TelemetryEncoder().encode(
            TOPIC, Telemetry.model_construct(ts=1_763_900_000_123, seq=1, points={"n": Huge()})
        )


class Huge(int):
    def __new__(cls) -> Huge:
        return super().__new__(cls, 2**64)


def test_telemetry_encoder_adds_the_floor_the_inventory_knows() -> None:
    inventory = Inventory.model_validate(
        {
            "site": {"id": "harbour"},
            "buildings": [
                {
                    "id": "tower-a",
                    "equipment": [
                        {
                            "id": "pump-a1",
                            "kind": "pump",
                            "profile": "p",
                            "floor": "B 2",
                            "connection": {"type": "modbus_tcp", "host": "h"},
                        },
                        {
                            "id": "pump-a2",
                            "kind": "pump",
                            "profile": "p",
                            "connection": {"type": "modbus_tcp", "host": "h"},
                        },
                    ],
                }
            ],
        }
    )
    encoder = TelemetryEncoder.from_inventory(inventory)
    assert encoder.prefix(TOPIC) == (
        "pump,building=tower-a,equipment=pump-a1,floor=B\\ 2,site=harbour"
    )
    assert "floor" not in encoder.prefix(TOPIC.replace("pump-a1", "pump-a2"))
    assert "floor" not in encoder.prefix(TOPIC.replace("harbour", "elsewhere"))

    strict = TelemetryEncoder.from_inventory(inventory, known_only=True)
    assert strict.prefix(TOPIC).startswith("pump,")
    assert strict.prefix(TOPIC.replace("pump-a1", "pump-a2")).startswith("pump,")
    for other in (
        TOPIC.replace("harbour", "elsewhere"),  # another site
        TOPIC.replace("pump-a1", "pump-a9"),  # not in the inventory
        TOPIC.replace("tower-a", "tower-b"),  # in another building
        TOPIC.replace("/pump/", "/elevator/"),  # of another kind
    ):
        with pytest.raises(ValueError, match="is not in the inventory"):
            strict.prefix(other)


def test_an_all_null_sample_still_writes_its_seq() -> None:
    line, points = TelemetryEncoder().encode(TOPIC, sample({"speed": None}))
    assert line.endswith(" seq=7i 1763900000123") and points == 0


def test_a_point_may_share_a_tag_name_but_not_time_or_seq() -> None:
    encoder = TelemetryEncoder()
    line, _ = encoder.encode(TOPIC.replace("pump", "elevator"), sample({"floor": 7}))
    assert "floor=7i" in line
    for reserved in ("time", "seq"):
        with pytest.raises(LineProtocolError, match="reserved"):
            encoder.encode(TOPIC, sample({reserved: 1}))


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("plantroom/v1/harbour/tower-a/boiler/b1/telemetry", "unknown equipment kind"),
        ("plantroom/v1/harbour/tower-a/pump/pump-a1/status", "not a telemetry topic"),
        ("plantroom/v1/harbour/edge/pump/x/telemetry", "edge"),
        ("plantroom/v1/harbour//pump/x/telemetry", "building '' may only contain"),
        ("plantroom/v1/har\tbour/b/pump/x/telemetry", r"site 'har\\tbour' may only contain"),
        ("plantroom/v1/harbour/b/pump/p 1/telemetry", "equipment 'p 1' may only contain"),
        (f"plantroom/v1/harbour/b/pump/{'x' * 60_000}/telemetry", "60000 characters; at most 64"),
        ("other/topic", "not a Plantroom equipment topic"),
    ],
)
def test_bad_topics_are_refused_with_a_reason(topic: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TelemetryEncoder().encode(topic, sample({"a": 1}))


def test_out_of_range_integers_are_refused() -> None:
    # The schema refuses such a value at the boundary; the encoder holds its own bound too,
    # for a sample that reaches it some other way.
    too_big = Telemetry.model_construct(ts=1_763_900_000_123, seq=7, points={"count": 2**64})
    with pytest.raises(LineProtocolError, match="64 bits"):
        TelemetryEncoder().encode(TOPIC, too_big)


def test_the_prefix_cache_is_bounded() -> None:
    encoder = TelemetryEncoder(cache_size=4)
    for i in range(10):
        encoder.prefix(TOPIC.replace("pump-a1", f"pump-{i}"))
        assert len(encoder._prefixes) <= 4


names = st.text(
    st.one_of(st.sampled_from([",", "=", " ", '"', "\\", "x"]), st.characters(codec="utf-8")),
    min_size=1,
    max_size=12,
)
values = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=20),
)


def _acceptable(name: str) -> bool:
    try:
        escape_tag_value(name)
    except LineProtocolError:
        return False
    return name != "time"


@given(
    tags=st.dictionaries(names.filter(_acceptable), names.filter(_acceptable), max_size=4),
    fields=st.dictionaries(names.filter(_acceptable), values, min_size=1, max_size=5),
)
def test_parse_line_reads_back_what_encode_line_wrote(
    tags: dict[str, str], fields: dict[str, FieldValue]
) -> None:
    parsed = parse_line(encode_line("m x,y", tags, fields, 1_763_900_000_000))
    assert parsed.measurement == "m x,y"
    assert parsed.tags == tags
    assert parsed.timestamp == 1_763_900_000_000
    assert parsed.fields.keys() == fields.keys()
    for key, value in fields.items():
        assert type(parsed.fields[key]) is type(value)
        assert parsed.fields[key] == value
