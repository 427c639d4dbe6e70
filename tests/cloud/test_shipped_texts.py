# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""The shipped plans' and rules' texts: extracted from the YAML, every one in the catalog,
and translated where a stored text is shown (and only there)."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path

import pytest

from cloud.locale import FOLDER, Text
from cloud.locale.shipped import extract_yaml, shipped, shipped_paragraphs
from cloud.pm.loader import load_plans
from cloud.rules.loader import load_folder

ROOT = Path(__file__).resolve().parents[2]
ZH = Text("zh", dt.UTC)
EN = Text("en", dt.UTC)

PLANS = b"""\
defaults: {lead: 0s}
plans:
  - id: pump.monthly
    kind: pump
    title: Pump monthly check
    description: >-
      Two lines
      folded.
    checklist:
      - Listen to the bearings; note vibration
      - step: Discharge pressure, against the setpoint
        reading: {unit: bar}
rules:
  - id: pump.dry
    title: Pump running dry
    description: Dry.
"""


def extracted(source: bytes) -> list[tuple[int, str, list[str]]]:
    return [
        (line, text, comments)
        for line, _, text, comments in extract_yaml(BytesIO(source), (), (), {})
    ]


def test_the_extractor_takes_titles_descriptions_and_steps_with_their_lines() -> None:
    assert extracted(PLANS) == [
        (5, "Pump monthly check", ["pump.monthly title"]),
        (6, "Two lines folded.", ["pump.monthly description"]),
        (10, "Listen to the bearings; note vibration", ["pump.monthly checklist step"]),
        (11, "Discharge pressure, against the setpoint", ["pump.monthly checklist step"]),
        (15, "Pump running dry", ["pump.dry title"]),
        (16, "Dry.", ["pump.dry description"]),
    ]


def test_the_extractor_names_a_file_that_is_not_yaml() -> None:
    broken = BytesIO(b"plans: [\n")
    broken.name = "plans/broken.yaml"
    with pytest.raises(ValueError, match=r"plans/broken\.yaml: not YAML"):
        extracted_from(broken)


def extracted_from(source: BytesIO) -> list[object]:
    return list(extract_yaml(source, (), (), {}))


def test_every_shipped_text_is_in_the_catalog() -> None:
    """What the loaders read from the shipped files is what the catalog holds."""
    template = (FOLDER / "messages.pot").read_text(encoding="utf-8")
    plans = [effective.plan for effective in load_plans()]
    rules = [rule for rule, _ in load_folder(ROOT / "cloud" / "rules").values()]
    texts = {plan.title for plan in plans} | {rule.title for rule in rules}
    texts |= {rule.description for rule in rules if rule.description}
    texts |= {plan.description for plan in plans if plan.description}
    texts |= {step.step for plan in plans for step in plan.checklist}
    for text in texts:
        assert ZH._(text) != text, f"{text!r} has no Chinese translation"
    assert "Lift daily patrol" in template


def test_a_shipped_text_and_its_known_compositions_read_in_chinese() -> None:
    assert shipped(ZH, "Lift daily patrol") == "电梯日常巡检"
    assert shipped(ZH, "Lift daily patrol: Lift A (lift-1)") == "电梯日常巡检：Lift A (lift-1)"
    assert shipped(ZH, "Pump running dry (flow=0)") == "水泵干转 (flow=0)"
    assert shipped(ZH, "Pump running dry cleared (flow=3)") == "水泵干转已解除 (flow=3)"
    described = "Daily patrol inspection by the building's own staff.\n\nPreventive maintenance."
    assert (
        shipped_paragraphs(ZH, described)
        == "由大厦自有员工进行的日常巡检。\n\nPreventive maintenance."
    )


def test_typed_text_and_english_readers_get_the_stored_text() -> None:
    assert shipped(ZH, "Lift A squeaks: please look") == "Lift A squeaks: please look"
    assert shipped(ZH, "") == ""
    assert shipped(EN, "Lift daily patrol: Lift A (lift-1)") == "Lift daily patrol: Lift A (lift-1)"
    assert shipped_paragraphs(ZH, "Lift daily patrol: typed") == "Lift daily patrol: typed"
