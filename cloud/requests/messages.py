"""Reporters' messages in their language, from the public pages' catalogs
(`cloud/console/i18n/{en,zh-CN}.json`, keys `report.update.<kind>`), so the page and the
messages sent out say the same thing."""

from __future__ import annotations

import functools
import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

CATALOGS = Path(__file__).resolve().parent.parent / "console" / "i18n"
LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
TIME_PARAMS = frozenset({"promised", "until"})


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def pick_lang(asked: str | None) -> str:
    """The catalog for a `lang` field or an Accept-Language header: Chinese for any `zh`,
    else English."""
    for part in (asked or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANG


def local_time(value: str | None, tz: tzinfo) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def render(lang: str, kind: str, params: dict[str, Any], tz: tzinfo) -> str:
    """The message of update `kind` with `params` (times as ISO strings, shown in `tz`)."""
    template = catalog(lang if lang in LANGS else DEFAULT_LANG)[f"report.update.{kind}"]
    shown = {
        k: local_time(v, tz) if k in TIME_PARAMS else ("-" if v is None else v)
        for k, v in params.items()
    }
    return template.format_map(shown)[:1000]
