# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""What the service composes (a trail's note, a description's paragraph) is stored in English
with its message and parameters, and written again for a reader of another language: the
service's frame translated, a person's text left as typed, labels and shipped texts translated,
numbers the reader's way."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cloud.locale import N_, Text
from cloud.locale.composed import (
    MAX_DEPTH,
    Composed,
    Label,
    compose,
    labelled,
    paragraphs,
    rendered,
    rendered_paragraphs,
    stored,
)

ZH = Text("zh", dt.UTC)
EN = Text("en", dt.UTC)


def test_a_note_with_a_persons_text_keeps_the_text_and_translates_the_frame() -> None:
    note = compose(N_("signed off by %(signer)s"), signer="Wang Fang, site manager")
    assert note.english == "signed off by Wang Fang, site manager"
    assert note.render(ZH) == "已由 Wang Fang, site manager 签字确认"
    assert note.render(EN) == note.english


def test_labels_are_translated_and_numbers_written_the_readers_way() -> None:
    summary = compose(
        N_("%(position)s. %(item)s: %(result)s%(reading)s%(note)s"),
        position=2,
        item=Label("Brake shoe clearance, the widest point"),
        result=Label("fail"),
        reading=compose(N_(", %(value)s %(unit)s (out of limits)"), value=1234.5, unit=Label("mm")),
        note=compose(N_(". %(note)s"), note="lining worn: replace"),
    )
    assert summary.english == (
        "2. Brake shoe clearance, the widest point: fail, 1,234.5 mm (out of limits). "
        "lining worn: replace"
    )
    assert summary.render(ZH) == (
        "2. 制动闸瓦间隙（最大处）：不合格，1,234.5 mm（超出限值）。lining worn: replace"
    )


def test_a_stored_text_alone_is_shown_like_a_shipped_one() -> None:
    assert labelled("Pump running dry (dry 1.0)").render(ZH) == "水泵干转 (dry 1.0)"
    assert labelled("my own words").render(ZH) == "my own words"


def test_what_is_stored_reads_back_the_same() -> None:
    note = compose(N_("PM job %(job)s is %(status)s"), job="WO-000042", status=Label("in progress"))
    text, message = stored(note)
    assert text == "PM job WO-000042 is in progress"
    back = json.loads(json.dumps(message))  # as the JSON column gives it
    assert Composed.load(back) == note
    assert rendered(text, back, ZH) == "预防性维护工单 WO-000042：处理中"
    assert rendered(text, back, EN) == text
    assert rendered(text, back, None) == text
    assert stored("a person's note") == ("a person's note", None)


def test_a_note_without_a_message_or_with_a_broken_one_reads_as_stored() -> None:
    assert rendered("typed by a person", None, ZH) == "typed by a person"
    assert rendered("old row", {"message": 3}, ZH) == "old row"
    assert rendered("old row", {"message": "x %(a)s", "params": {"a": True}}, ZH) == "old row"
    assert rendered(None, None, ZH) is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("text", "message: expected an object with a string 'message'"),
        ({"message": ""}, "message: must not be empty"),
        ({"message": "x", "params": [1]}, "message.params: expected an object of up to 12"),
        ({"message": "x", "params": {"a": [1]}}, "message.params.a: expected a text, a number"),
        ({"message": "x" * 20_001}, "message.message: longer than 20000 characters"),
        ({"message": "x %(a)s", "params": {}}, "message: the parameters do not fit the message"),
    ],
)
def test_a_bad_stored_message_is_an_error_naming_what_is_wrong(data: object, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
        Composed.load(data)


def test_messages_within_messages_are_bounded() -> None:
    data: dict[str, object] = {"message": "%(a)s", "params": {"a": "end"}}
    for _ in range(MAX_DEPTH + 1):
        data = {"message": "%(a)s", "params": {"a": data}}
    with pytest.raises(ValueError, match="nested deeper than"):
        Composed.load(data)


def test_a_message_and_its_parameters_must_fit_where_it_is_written() -> None:
    with pytest.raises(ValueError, match="signed off by %\\(signer\\)s"):
        compose(N_("signed off by %(signer)s"), name="x")


def test_a_description_is_written_again_paragraph_by_paragraph() -> None:
    where = compose(N_("building %(building)s"), building="B1")
    where = compose(N_("%(place)s, floor %(floor)s"), place=where, floor="3")
    text, parts = paragraphs(
        Label("Pump running dry"), None, compose(N_("Location: %(place)s."), place=where)
    )
    assert text == "Pump running dry\n\nLocation: building B1, floor 3."
    back = json.loads(json.dumps(parts))
    assert rendered_paragraphs(text, back, ZH) == "水泵干转\n\n位置：B1 楼，3 层。"
    assert rendered_paragraphs(text, back, EN) == text
    # changed since it was composed: as stored
    assert rendered_paragraphs(text + " Edited.", back, ZH) == text + " Edited."
    assert paragraphs(None, "") == (None, None)


def test_a_notification_repeated_in_a_trail_is_written_again_for_each_reader() -> None:
    from cloud.sla import sentences
    from cloud.sla.policy import Stage

    job = {
        "number": "WO-000007",
        "priority": "urgent",
        "building": "b1",
        "location": None,
        "title": "Pump dry run: pump-1",
    }
    facts = {"job": job, "clock": "acknowledge", "due": None, "stage": 1}
    facts["level"] = Stage.BACKUP.value
    note = sentences.written("escalated", facts)
    english, data = stored(note)
    assert english == sentences.sentence("escalated", facts, EN)
    assert english is not None and english.startswith("WO-000007 (urgent) in b1: ")
    shanghai = Text("zh", dt.timezone(dt.timedelta(hours=8)))
    chinese = rendered(english, json.loads(json.dumps(data)), shanghai)
    assert chinese == sentences.sentence("escalated", facts, shanghai) != english
    assert "（急）" in str(chinese) or "急" in str(chinese)
    # an unknown writer or facts it cannot use: the note as stored
    assert rendered(english, {"writer": "nobody", "facts": {}}, ZH) == english
    assert rendered(english, {"writer": "notification.escalated", "facts": {}}, ZH) == english
    assert rendered(english, data, EN) == english


def test_the_edge_clock_and_channel_notes_are_composed() -> None:
    from cloud.alarms.edge_clock import BACK_AHEAD

    note = compose(BACK_AHEAD, agent="b01", skew=1234)
    assert (
        note.english
        == "edge agent 'b01': clock 1,234 s ahead of the cloud's, back within the bound"
    )
    assert note.render(ZH) != note.english and "b01" in note.render(ZH)


def test_a_location_and_a_title_s_building_the_service_wrote_read_in_chinese() -> None:
    from cloud.locale.shipped import location, shipped

    assert location(ZH, "floor B1, plant room") == "B1 层, plant room"
    assert location(ZH, "floor 3") == "3 层"
    assert location(EN, "floor 3") == "floor 3"
    assert location(ZH, "P1 near bay 12") == "P1 near bay 12"  # a person's words
    title = "Generator monthly run test: building b1"
    assert shipped(ZH, title).endswith("楼宇 b1")
    assert shipped(ZH, "Not a shipped title: building b1") == "Not a shipped title: building b1"


def test_an_outage_incident_s_title_reads_in_chinese() -> None:
    from cloud.locale.shipped import OUTAGE, shipped

    title = OUTAGE.format(building="tower-a", count=1234)
    assert title == "Outage in building tower-a: 1234 devices lost at once"
    assert shipped(ZH, title) == "楼宇 tower-a 停电：1,234 台设备同时失联"
    assert shipped(EN, title) == title
