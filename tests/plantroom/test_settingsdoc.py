"""docs/settings.md is generated from the settings classes and kept current."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from plantroom import settings as settings_module
from plantroom import settingsdoc
from plantroom.settingsdoc import PROCESSES, Process, render
from tests.harness import REPO


def test_docs_settings_page_is_current() -> None:
    page = REPO / settingsdoc.DOC_PATH
    assert page.is_file(), f"{settingsdoc.DOC_PATH} is missing: run `{settingsdoc.COMMAND}`"
    if page.read_text(encoding="utf-8") != render():
        pytest.fail(
            f"{settingsdoc.DOC_PATH} is out of date with plantroom/settings.py: "
            f"run `{settingsdoc.COMMAND}` from the repository root and commit the result"
        )


def test_every_settings_class_is_documented() -> None:
    """A settings class of the contract is a process's class or a part of one."""
    documented = {p.settings for p in PROCESSES}
    parts = {base for p in PROCESSES for base in p.settings.__mro__}
    for name, cls in inspect.getmembers(settings_module, inspect.isclass):
        if not issubclass(cls, BaseSettings) or cls.__module__ != settings_module.__name__:
            continue
        assert cls in documented or cls in parts, (
            f"plantroom.settings.{name} is read by no process in settingsdoc.PROCESSES"
        )


def test_every_variable_of_every_process_is_on_the_page() -> None:
    text = render()
    for process in PROCESSES:
        prefix = process.settings.model_config.get("env_prefix", "")
        for name in process.settings.model_fields:
            assert f"`{prefix}{name}`".upper() in text.upper(), (process.name, name)


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")

    shared_host: str = "localhost"


class _One(_Base):
    token: SecretStr = SecretStr("hunter2")
    password: SecretStr | None = None
    port: int = Field(default=80, ge=1, le=65535, description="where it listens")
    mode: Literal["fast", "safe"] = "safe"
    names: list[str] = Field(default_factory=list)
    group: str = Field(default="", description="like $share/<group>/x | y")
    place: str = "a"


class _Two(_Base):
    interval_s: float = Field(default=1.5, gt=0)
    place: str = "b"


FAKE = (Process("first", "run one", _One), Process("second", "run two", _Two))


def _row(text: str, variable: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(f"| `{variable}` |")]
    return line


def test_secrets_show_no_value() -> None:
    text = render(FAKE)
    assert "hunter2" not in text
    assert _row(text, "DEMO_TOKEN").split("|")[2].strip() == settingsdoc.SECRET
    assert _row(text, "DEMO_PASSWORD").split("|")[2].strip() == settingsdoc.SECRET


def test_defaults_values_and_descriptions() -> None:
    text = render(FAKE)
    assert _row(text, "DEMO_PORT") == (
        "| `DEMO_PORT` | `80` | integer, ≥ 1, ≤ 65535 | where it listens |"
    )
    assert _row(text, "DEMO_MODE") == "| `DEMO_MODE` | `safe` | `fast` or `safe` | — |"
    assert _row(text, "DEMO_NAMES") == "| `DEMO_NAMES` | empty | JSON list of text | — |"
    assert _row(text, "DEMO_INTERVAL_S") == "| `DEMO_INTERVAL_S` | `1.5` | number, above 0 | — |"


def test_markdown_in_descriptions_is_escaped_outside_code() -> None:
    row = _row(render(FAKE), "DEMO_GROUP")
    assert "$share/&lt;group&gt;/x \\| y" in row


def test_shared_variables_are_listed_once_under_their_readers() -> None:
    text = render(FAKE)
    shared = text.index("## Shared: first and second")
    first = text.index("## First (`run one`)")
    assert text.count("| `DEMO_SHARED_HOST` |") == 1
    assert shared < text.index("| `DEMO_SHARED_HOST` |") < first
    # declared in both with different defaults: each process's default is named
    assert _row(text, "DEMO_PLACE").split("|")[2].strip() == "first: `a`; second: `b`"
    assert shared < text.index("| `DEMO_PLACE` |") < first
    second = text.index("## Second (`run two`)")
    assert second < text.index("| `DEMO_INTERVAL_S` |")


def test_write_puts_the_page_at_the_given_path(tmp_path: Path) -> None:
    target = tmp_path / "settings.md"
    assert settingsdoc.main(["--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
