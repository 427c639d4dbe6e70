"""Fixtures of the console's browser tests; the helpers they are built on are in browser.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from plantroom.inventory import load_inventory
from stack.services import Influxd, Mosquitto
from tests.cloud.console.browser import Stack, lift_plan_due_today, running_cloud, write_history
from tests.harness import write_site


@pytest.fixture
def stack(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> Iterator[Stack]:
    """The cloud process on tower-a, with a day of pump-a1's history in InfluxDB."""
    site = f"br-{uuid.uuid4().hex[:8]}"
    database = f"console_{uuid.uuid4().hex[:8]}"
    write_history(influxd, database, site)
    with running_cloud(tmp_path, mosquitto, influxd, site=site, database=database) as running:
        yield running


@pytest.fixture
def lift(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> Iterator[Stack]:
    """The cloud process on tower-a with the shipped lift visit due today at the site."""
    zone = load_inventory(write_site(tmp_path / "site.yaml", "tower-a")).site.timezone
    lift_plan_due_today(tmp_path / "pm", ZoneInfo(zone))
    env = {"PLANTROOM_PM_DIR": str(tmp_path / "pm"), "PLANTROOM_DATA_DIR": str(tmp_path / "data")}
    with running_cloud(
        tmp_path,
        mosquitto,
        influxd,
        site=f"ck-{uuid.uuid4().hex[:8]}",
        database=f"ck_{uuid.uuid4().hex[:8]}",
        env=env,
    ) as running:
        yield running
