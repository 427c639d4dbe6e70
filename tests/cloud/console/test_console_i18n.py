"""The console's catalogs: every key the job's work uses is in English, and the Chinese
catalog has the same keys with the same `{placeholders}`."""

from __future__ import annotations

import json
import re

from tests.harness import REPO

CONSOLE = REPO / "cloud" / "console"


def catalog(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CONSOLE / "i18n" / f"{name}.json").read_text("utf-8"))
    return data


def test_every_key_used_is_in_english_and_chinese_has_the_same() -> None:
    english, chinese = catalog("en"), catalog("zh-CN")
    used = set()
    for path in CONSOLE.glob("*.js"):
        used |= set(re.findall(r"\bt\('([a-z_.]+)'", path.read_text("utf-8")))
        used |= {f"checklist.{r}" for r in ("pass", "fail", "na")}
    assert used and used <= set(english), sorted(used - set(english))
    assert set(chinese) == set(english)
    for key, text in english.items():
        assert set(re.findall(r"\{\w+\}", chinese[key])) == set(re.findall(r"\{\w+\}", text)), key
