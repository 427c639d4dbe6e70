"""Profiles written for a test: a YAML file in a temporary folder, a Modbus profile from its
points alone, and the message a bad one is refused with."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from plantroom.errors import ConfigError
from plantroom.profiles import load_profile


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Profile `name` written as `text` (dedented) in `tmp_path`."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def error_of(path: Path) -> str:
    """The message loading the profile at `path` is refused with."""
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    return str(info.value)


MODBUS_HEAD = """
name: {name}
kind: pump
protocol: modbus
points:
"""


def modbus(tmp_path: Path, points: str, name: str = "test-pump") -> Path:
    """A Modbus pump profile of `points` (YAML list items) written in `tmp_path`."""
    return write(tmp_path, name, MODBUS_HEAD.format(name=name) + textwrap.dedent(points))
