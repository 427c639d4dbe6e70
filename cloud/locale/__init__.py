"""Text the server makes for people, in their language (English or Simplified Chinese), from
gettext message catalogs kept with Babel.

Code marks what people read with `_()` (`ngettext()` for counts, `N_()` for a string stored
in a table and translated where it is shown). `pybabel extract` gathers the marked strings
into `cloud/locale/messages.pot`, `pybabel update` merges them into each language's
`<locale>/LC_MESSAGES/messages.po` (CONTRIBUTING.md). English is the source language, so it
has no catalog. The .po files are read here at run time and compiled in memory once per
process: no compiled .mo in the source tree, nothing to build at install.

    text = Text("zh", ZoneInfo("Asia/Shanghai"))
    text._("Monthly service report")          # 月度服务报告
    text.datetime(at)                          # 2026年3月10日 17:05
    text.number(1234.5, 1)                     # 1,234.5
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined

FOLDER = Path(__file__).resolve().parent
DOMAIN = "messages"
LANGUAGES = ("en", "zh")  # a user's `language`
DEFAULT_LANGUAGE = "en"
# a language → its catalog folder and Babel locale, and its tag in HTML's `lang`
LOCALES = {"en": "en", "zh": "zh_CN"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it here (it is translated with
    `Text._` where it is shown)."""
    return message


def catalog_path(language: str) -> Path:
    return FOLDER / LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language`, read from its .po file once. Untranslated and fuzzy
    entries fall back to the English text."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    path = catalog_path(language)
    with path.open("rb") as po:
        catalog = read_po(po, locale=LOCALES[language], domain=DOMAIN, abort_invalid=True)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@functools.cache
def templates(folder: Path, language: str) -> Environment:
    """The Jinja2 templates in `folder` with the catalog of `language` for `_()` (new-style
    gettext: `_("%(n)s jobs", n=3)`, escaped), HTML autoescaped. One environment per folder
    and language, so that pages in different languages never share one."""
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # added to the environment by the i18n extension
    install: Any = env.install_gettext_translations  # type: ignore[attr-defined]
    install(translations(language), newstyle=True)
    return env


def language_of(asked: str | None) -> str:
    """A supported language for a stored or asked one: Chinese for any `zh` tag, else
    English."""
    tag = (asked or "").strip().lower()
    return "zh" if tag.startswith("zh") else DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Text:
    """Translations, dates and numbers for one reader: their language, and the site's time
    zone for times of day."""

    language: str
    zone: dt.tzinfo

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language {self.language!r}: expected one of {LANGUAGES}")

    @property
    def locale(self) -> Locale:
        return Locale.parse(LOCALES[self.language])

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]

    def _(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.language).ngettext(singular, plural, n)

    def number(self, value: float, digits: int = 0) -> str:
        """`value` with exactly `digits` decimals, grouped the reader's way."""
        decimals = "." + "0" * digits if digits > 0 else ""
        return format_decimal(value, format=f"#,##0{decimals}", locale=self.locale)

    def figure(self, value: float) -> str:
        """`value` with as many decimals as it has (up to 3), like a reading."""
        return format_decimal(value, format="#,##0.###", locale=self.locale)

    def date(self, day: dt.date) -> str:
        """e.g. March 1, 2026 / 2026年3月1日."""
        return format_date(day, format="long", locale=self.locale)

    def month(self, day: dt.date) -> str:
        """e.g. March 2026 / 2026年3月."""
        return format_skeleton("yMMMM", day, locale=self.locale)

    def datetime(self, at: dt.datetime) -> str:
        """`at` in the site's time zone to the minute, e.g. March 10, 2026, 5:05 PM /
        2026年3月10日 17:05."""
        local = at.astimezone(self.zone)
        pattern = str(get_datetime_format("long", locale=self.locale)).replace("'", "")
        day = format_date(local.date(), format="long", locale=self.locale)
        time = format_time(local, format="short", tzinfo=self.zone, locale=self.locale)
        return pattern.replace("{1}", day).replace("{0}", time)


RECORD = Text(DEFAULT_LANGUAGE, dt.UTC)
"""The language of what the service stores and logs (an alarm's message, a job's trail)."""
