"""The takeover case (chaos/takeover.py) on the session's mosquitto and PostgreSQL: two cloud
processes share three sites through their leases, 2/1; the holder of two is killed under load
with pump faults at every site around the kill; the other takes both over within the bound,
every fault raises exactly one work order and no alarm stays active."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chaos.siteload import inventory, name, pumps
from chaos.takeover import TakeoverResult, render, run
from stack.pgserver import Postgres
from stack.services import Mosquitto
from tests.cloud.harness import postgres_schema

pytestmark = pytest.mark.integration


@pytest.mark.timeout(400)  # two cloud starts (about 20 s each on a busy machine), 15 s lease
def test_kill_9_of_the_holder_of_two_sites_hands_them_over(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    with postgres_schema(postgres) as url:
        result = asyncio.run(
            run(tmp_path, broker=(mosquitto.host, mosquitto.port), database_url=url)
        )
    assert result.takeover_s is not None and result.takeover_s <= result.bound_s, result
    assert len(result.moved) == 2 and result.handed_over, result
    assert {holder for _, holder in result.after.values()} == {"cloud-b"}, result
    assert len(result.faulted) == 9 and not result.missed, result
    sites = {site for site, pump in pumps(result.sites) if name(site, pump) in result.faulted}
    assert sites == set(result.sites), result  # faults at every site, those moved and not
    # the sites' pumps share their ids: a fault is its own site's pump's alone
    assert {p.split("/")[1] for p in result.faulted} < {p for _, p in pumps(result.sites)}
    assert not result.duplicates and not result.unexpected, result
    assert not result.stuck, result
    assert result.ok
    assert "**Passed**" in render(result, 60.0)


def test_the_report_names_what_went_wrong() -> None:
    failed = TakeoverResult(
        ttl_s=15.0, sites=["n", "s", "w"], takeover_s=31.0, faulted=["n/pump-00", "s/pump-00"]
    )
    failed.work_orders = {"n/pump-00": 2, "w/pump-01": 1}
    failed.before = {"n": (1, "cloud-a"), "s": (2, "cloud-b"), "w": (1, "cloud-a")}
    failed.after = {"n": (2, "cloud-b"), "s": (2, "cloud-b"), "w": (1, "cloud-a")}
    assert (failed.missed, failed.duplicates, failed.unexpected) == (
        ["s/pump-00"],
        ["n/pump-00"],
        ["w/pump-01"],
    )
    assert failed.moved == ["n", "w"] and not failed.handed_over  # w was never taken over
    assert not failed.ok
    assert "**Failed**" in render(failed, 60.0)
    sites = ["n", "s", "w"]
    assert "id: pump-03" in inventory(sites, 2) and "pump-04" not in inventory(sites, 2)
    assert all("id: pump-00" in inventory(sites, n) for n in range(3))  # the ids are shared
    assert "id: tower-2" in inventory(sites, 2) and "id: w" in inventory(sites, 2)
