"""The takeover case (chaos/takeover.py) on the session's mosquitto and PostgreSQL: two cloud
processes share a site through its lease; the holder is killed under load with pump faults
around the kill; the other takes the site over within the bound, every fault raises exactly
one work order and no alarm stays active."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chaos.takeover import TakeoverResult, inventory, render, run
from stack.pgserver import Postgres
from stack.services import Mosquitto
from tests.cloud.harness import postgres_schema

pytestmark = pytest.mark.integration


@pytest.mark.timeout(400)  # two cloud starts (about 20 s each on a busy machine), 15 s lease
def test_kill_9_of_the_lease_holder_hands_the_site_over(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    with postgres_schema(postgres) as url:
        result = asyncio.run(
            run(tmp_path, broker=(mosquitto.host, mosquitto.port), database_url=url)
        )
    assert result.takeover_s is not None and result.takeover_s <= result.bound_s, result
    assert result.holders == ("cloud-a", "cloud-b"), result
    assert result.epochs[1] == result.epochs[0] + 1, result
    assert len(result.faulted) == 9 and not result.missed, result
    assert not result.duplicates and not result.unexpected, result
    assert not result.stuck, result
    assert result.ok
    assert "**Passed**" in render(result, 60.0)


def test_the_report_names_what_went_wrong() -> None:
    failed = TakeoverResult(ttl_s=15.0, site="s", takeover_s=31.0, faulted=["pump-01", "pump-02"])
    failed.work_orders = {"pump-01": 2, "pump-05": 1}
    assert (failed.missed, failed.duplicates, failed.unexpected) == (
        ["pump-02"],
        ["pump-01"],
        ["pump-05"],
    )
    assert not failed.ok
    assert "**Failed**" in render(failed, 60.0)
    assert "pump-12" in inventory("s") and "pump-13" not in inventory("s")
