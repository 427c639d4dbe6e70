"""The console's catalogs: every key the console's pages use is in English, every key of the
catalogs is used, the Chinese catalog has the same keys with the same `{placeholders}`, and
every value of the service's lists the console shows in words (statuses, priorities, kinds,
canonical points and units...) has its words."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from cloud.api.errors import HTTP_CODES
from cloud.assets.kinds import ALL_KINDS
from cloud.enums import AlarmState, EquipmentStatus, Priority, Severity, WorkOrderStatus
from cloud.notify.model import OutboxStatus
from cloud.oncall.model import CoverKind
from cloud.oncall.rota import Rotation
from cloud.workorders.rules import Action
from plantroom.canonical import CANONICAL, DIMENSIONLESS
from tests.cloud.console.browser import catalog
from tests.harness import REPO

CONSOLE = REPO / "cloud" / "console"
KEY = re.compile(r"""(['"`])([a-z][a-z_]*(?:\.[A-Za-z0-9_%/${}.-]+)+)\1""")
HTML_KEY = re.compile(r"""data-i18n(?:-label)?="([^"]+)\"""")

# Families whose words are looked up from the service's lists (`term(family, value)`, the
# badges): each holds exactly the list's values.
DOMAINS: dict[str, set[str]] = {
    "status": {s.value for s in WorkOrderStatus},
    "priority": {p.value for p in Priority},
    "severity": {s.value for s in Severity},
    "alarm_state": {s.value for s in AlarmState},
    "equipment_status": {s.value for s in EquipmentStatus},
    "message_status": {s.value for s in OutboxStatus},
    "kind": set(ALL_KINDS),  # the telemetry kinds and the register-only kinds
    "point": {name for points in CANONICAL.values() for name in points},
    "state": {
        label for points in CANONICAL.values() for p in points.values() for label in p.labels
    },
    "rotation": {r.value for r in Rotation},
    "cover": {c.value for c in CoverKind},
}


def error_codes() -> set[str]:
    """Every error code the service answers with: the HTTP statuses' and each one its code
    names where it refuses (`code="..."`, `"code": "..."`, a class's `code = "..."`)."""
    found = set(HTTP_CODES.values())
    written = re.compile(r'(?:code=|"code": |code = )"([a-z_]+)"')
    for path in (REPO / "cloud").rglob("*.py"):
        found |= set(written.findall(path.read_text("utf-8")))
    return found


# Families that hold at least these values (others are shown as they are).
AT_LEAST: dict[str, set[str]] = {
    "api_error": error_codes(),  # a refusal's words for a reader not reading English
    "unit": {
        p.unit
        for points in CANONICAL.values()
        for p in points.values()
        if p.unit is not None and p.unit != DIMENSIONLESS
    },
    "event": {a.value for a in Action}
    | {"created", "reopened", "comment", "step", "photo", "dispatched", "escalated"}
    # what the service records of its own in a job's trail
    | {"follow_up_raised", "fault_cleared", "fault_recurred", "held", "incident_linked"}
    | {"notification_channel_failing"},
}


def calls(text: str, name: str) -> Iterator[str]:
    """The argument text of each call `name(...)` in `text` (parentheses balanced)."""
    for match in re.finditer(rf"\b{name}\(", text):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        yield text[match.end() : end - 1]


def pattern(key: str) -> re.Pattern[str]:
    """A key written with `${...}` parts as the keys it may be."""
    parts = re.split(r"\$\{[^}]*\}", key)
    return re.compile("[^.]+".join(re.escape(p) for p in parts) + r"\Z")


def written_keys() -> set[str]:
    """The keys the console's pages look up: literals and `${}` templates in t(...) calls
    (and in keptNotice(...), which looks up the key it is given), the families of term(...)
    calls, and data-i18n attributes of the pages."""
    keys: set[str] = set()
    for path in CONSOLE.glob("*.js"):
        text = path.read_text("utf-8")
        for lookup in ("t", "keptNotice"):
            for args in calls(text, lookup):
                keys |= {m.group(2) for m in KEY.finditer(args)}
        for args in calls(text, "term"):
            family = re.match(r"\s*'([a-z_]+)'", args)
            if family:
                keys.add(f"{family.group(1)}.${{value}}")
    for path in CONSOLE.glob("*.html"):
        keys |= set(HTML_KEY.findall(path.read_text("utf-8")))
    return keys


def test_every_key_written_is_in_the_catalogs_and_every_key_is_used() -> None:
    english = catalog("en")
    written = written_keys()
    assert "nav.jobs" in written and "status.${value}" in written, sorted(written)[:20]
    patterns = {key: pattern(key) for key in written}
    missing = [k for k, p in patterns.items() if not any(p.match(e) for e in english)]
    assert missing == [], f"keys the console uses that en.json lacks: {sorted(missing)}"
    families = {f"{family}.${{value}}" for family in [*DOMAINS, *AT_LEAST]}
    used = [*patterns.values(), *(pattern(f) for f in families)]
    unused = [key for key in english if not any(p.match(key) for p in used)]
    assert unused == [], f"keys of en.json no page uses: {unused}"


def test_chinese_has_the_same_keys_and_placeholders() -> None:
    english, chinese = catalog("en"), catalog("zh-CN")
    assert list(chinese) == list(english)
    for key, text in english.items():
        assert set(re.findall(r"\{\w+\}", chinese[key])) == set(re.findall(r"\{\w+\}", text)), key
        assert chinese[key].strip(), key


@pytest.mark.parametrize("family", sorted([*DOMAINS, *AT_LEAST]))
def test_every_value_of_the_services_lists_has_words(family: str) -> None:
    english = catalog("en")
    have = {key.removeprefix(f"{family}.") for key in english if key.startswith(f"{family}.")}
    if family in DOMAINS:
        assert have == DOMAINS[family]
    else:
        assert AT_LEAST[family] <= have, sorted(AT_LEAST[family] - have)


def test_chinese_words_are_chinese() -> None:
    """No English sentence left in the Chinese catalog: words of two or more Latin letters are
    only units, names, codes and the service's own words."""
    allowed = re.compile(
        r"^(?:kg|kW|bar|mm|HTTP|API|JPEG|PNG|WebP|MB|CSV|UTF|English|Plantroom|tech|super|min)$"
    )
    english = catalog("en")
    for key, text in catalog("zh-CN").items():
        if text == english[key] and not re.search(r"[A-Za-z]{2,}", text):
            continue  # a unit symbol or a template such as "{value} {unit}"
        plain = re.sub(r"\{\w+\}|`[^`]*`", "", text)  # placeholders and `code`
        words = [w for w in re.findall(r"[A-Za-z]{2,}", plain) if not allowed.match(w)]
        assert words == [], f"{key}: {text}"
