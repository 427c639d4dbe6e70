"""Topic names are built and parsed in one place."""

from __future__ import annotations

import pytest

from plantroom.topics import (
    EDGE_HEALTH_WILDCARD,
    STATUS_WILDCARD,
    TELEMETRY_WILDCARD,
    EquipmentTopic,
    check_segment,
    edge_status,
    for_site,
    parse_equipment_topic,
    shared,
)


def test_build_and_parse_round_trip() -> None:
    t = EquipmentTopic("harbour", "tower-a", "pump", "pump-a1")
    assert t.telemetry() == "plantroom/v1/harbour/tower-a/pump/pump-a1/telemetry"
    assert parse_equipment_topic(t.telemetry()) == (t, "telemetry")
    assert parse_equipment_topic(t.status()) == (t, "status")


def test_edge_status_and_shared_subscription() -> None:
    assert edge_status("harbour", "edge-1") == "plantroom/v1/harbour/edge/edge-1/status"
    assert shared("ingest", TELEMETRY_WILDCARD) == "$share/ingest/plantroom/v1/+/+/+/+/telemetry"


@pytest.mark.parametrize(
    "topic",
    [
        "plantroom/v1/s/b/pump/p1",
        "plantroom/v2/s/b/pump/p1/telemetry",
        "plantroom/v1/s/b/boiler/p1/telemetry",
        "plantroom/v1/s/b/pump/p1/other",
        "plantroom/v1/s/edge/pump/p1/status",
    ],
)
def test_bad_topics_are_rejected(topic: str) -> None:
    with pytest.raises(ValueError):
        parse_equipment_topic(topic)


@pytest.mark.parametrize("bad", ["a/b", "a+", "#", "a b", ""])
def test_segments_cannot_carry_separators_or_wildcards(bad: str) -> None:
    with pytest.raises(ValueError):
        check_segment(bad, "building id")


def test_an_equipment_topic_segment_is_bounded_and_quoted_short() -> None:
    long = "x" * 60_000
    with pytest.raises(ValueError, match=r"equipment 'x+'… is 60000 characters; at most 64") as err:
        parse_equipment_topic(f"plantroom/v1/harbour/tower-a/pump/{long}/telemetry")
    assert len(str(err.value)) < 300
    with pytest.raises(ValueError, match=r"\(60046 characters\)") as err:
        parse_equipment_topic(f"plantroom/v1/harbour/tower-a/boiler/{long}/telemetry")
    assert len(str(err.value)) < 400
    assert parse_equipment_topic(f"plantroom/v1/harbour/tower-a/pump/{'p' * 64}/telemetry")


def test_for_site_narrows_a_wildcard_to_one_site() -> None:
    assert for_site(TELEMETRY_WILDCARD, "north") == "plantroom/v1/north/+/+/+/telemetry"
    assert for_site(EDGE_HEALTH_WILDCARD, "north") == "plantroom/v1/north/edge/+/health"
    with pytest.raises(ValueError, match="not a per-site wildcard"):
        for_site("plantroom/v1/north/+/+/+/telemetry", "south")
    with pytest.raises(ValueError, match="site 'a/b'"):
        for_site(STATUS_WILDCARD, "a/b")
