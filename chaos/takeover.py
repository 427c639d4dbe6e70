"""The takeover case: two cloud processes share three sites' rule evaluation through their
leases in PostgreSQL (`PLANTROOM_CLOUD_CLUSTER`, a folder of three inventories); the holder of
two sites gets SIGKILL under load, with pump faults injected before, across and after the kill.

`SITES` sites of `PUMPS` pumps in all publish a sample per pump every `PERIOD_S` (the load) on
a real mosquitto; the sites' pumps have the same ids (every site has a `pump-00`). Process
`cloud-a` starts first and takes every lease; `cloud-b` joins and the two split the sites 2/1.
Pump faults (`dry_run`, each held `FAULT_S` then cleared, taking the sites in turn) begin at
`BEFORE` seconds before the kill of `cloud-a` (the last spans it), `DURING` seconds after it
(while no process holds its sites: the broker queues for each site's session) and `AFTER`
seconds after `cloud-b` holds every site. The takeover time is from the kill until `cloud-b`'s
`/api/health` shows all the sites among its leases. Then, from the database: each fault raised
exactly one `pump.dry_run` work order, no pump that had no fault got one, and no `dry_run`
alarm is still active once the faults are cleared.

`python -m chaos.takeover [--write]` runs it on servers of its own and writes the section
`takeover` of docs/reliability.md; tests/chaos/test_takeover.py runs it on the test session's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
from sqlalchemy import create_engine, select

from benchmarks.pages import machine
from chaos.siteload import FAULT_S, PERIOD_S, PUMPS, SITES, Load, inventory, name, pumps
from cloud import tables  # noqa: F401  (every table mapped before the audit's queries)
from cloud.alarms.model import Alarm
from cloud.cluster.model import SiteLease
from cloud.enums import AlarmState
from cloud.workorders.model import WorkOrder
from plantroom.clustersettings import ClusterSettings
from plantroom.ports import free_port

BEFORE = (-6.0, -3.0, -1.0)
DURING = (1.0, 4.0, 8.0)
AFTER = (0.0, 2.0, 4.0)
RULE = "pump.dry_run"
TTL_S: float = ClusterSettings.model_fields["cloud_lease_ttl_s"].default
REPO = Path(__file__).resolve().parent.parent
REPORT_PATH = REPO / "docs" / "reliability.md"


Leases = dict[str, tuple[int, str | None]]  # per site, its lease's epoch and holder


@dataclass
class TakeoverResult:
    ttl_s: float
    sites: list[str]
    takeover_s: float | None = None
    before: Leases = field(default_factory=dict)  # the leases just before the kill
    after: Leases = field(default_factory=dict)  # and at the end
    faulted: list[str] = field(default_factory=list)
    # pumps by `siteload.name` (site/id: every site's pumps have the same ids)
    work_orders: dict[str, int] = field(default_factory=dict)  # per pump, `pump.dry_run`
    stuck: list[str] = field(default_factory=list)  # pumps with a dry_run alarm still active
    other_active: int = 0  # other alarms active at the end (lost communication, ...)
    published: int = 0

    @property
    def bound_s(self) -> float:
        """A lease runs out `ttl` after its last renewal, which is at most a third of it
        before the kill; the next heartbeat of the survivor (a third more) takes it."""
        return self.ttl_s * 5 / 3

    @property
    def missed(self) -> list[str]:
        return [p for p in self.faulted if not self.work_orders.get(p)]

    @property
    def duplicates(self) -> list[str]:
        return sorted(p for p, n in self.work_orders.items() if n > 1)

    @property
    def unexpected(self) -> list[str]:
        return sorted(p for p in self.work_orders if p not in self.faulted)

    @property
    def moved(self) -> list[str]:
        """The sites `cloud-a` held at the kill."""
        return sorted(s for s, (_, holder) in self.before.items() if holder == "cloud-a")

    @property
    def handed_over(self) -> bool:
        """`cloud-a` held two sites, `cloud-b` one; at the end `cloud-b` holds all, each of
        `cloud-a`'s acquired once more."""
        return (
            len(self.moved) == SITES - 1
            and all(self.after.get(s, (0, None))[1] == "cloud-b" for s in self.sites)
            and all(self.after[s][0] == self.before[s][0] + 1 for s in self.moved)
        )

    @property
    def ok(self) -> bool:
        return (
            self.takeover_s is not None
            and self.takeover_s <= self.bound_s
            and self.handed_over
            and not (self.missed or self.duplicates or self.unexpected or self.stuck)
        )


@contextmanager
def cloud(
    name: str, tmp: Path, *, site_file: Path, database_url: str, broker: tuple[str, int]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m stack cloud` as process `name` in the cluster; its API's URL."""
    port = free_port()
    env = {
        **os.environ,
        "PLANTROOM_MQTT_HOST": broker[0],
        "PLANTROOM_MQTT_PORT": str(broker[1]),
        "PLANTROOM_CLOUD_CLUSTER": "true",
        "PLANTROOM_CLOUD_PROCESS_ID": name,
        "PLANTROOM_CLOUD_SHARE_GROUP": "",
        "PLANTROOM_CLOUD_INFLUX_ENABLED": "false",
        "PLANTROOM_PM_ENABLED": "false",
        "PLANTROOM_DATA_DIR": str(tmp / name / "data"),
    }
    cmd = [sys.executable, "-m", "stack", "cloud", "--inventory", str(site_file)]
    cmd += ["--port", str(port), "--database-url", database_url]
    with (tmp / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


async def leases_of(api: httpx.AsyncClient, url: str, proc: subprocess.Popen[bytes]) -> Any:
    """The process's `cluster` health, or None while it does not answer."""
    if proc.poll() is not None:
        raise RuntimeError(f"the cloud process at {url} exited with {proc.returncode}")
    try:
        response = await api.get(f"{url}/api/health", timeout=2.0)
    except httpx.TransportError:
        return None
    return response.json().get("cluster") if response.status_code == 200 else None


async def until(probe: Any, what: str, within: float, every: float = 0.1) -> Any:
    """Probe until it answers something true; each probe is bounded too, so a probe that
    hangs fails the case, naming what it waited for."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            found = await asyncio.wait_for(probe(), max(1.0, deadline - time.monotonic()))
        except TimeoutError:
            break
        if found:
            return found
        await asyncio.sleep(every)
    raise TimeoutError(f"not within {within:.0f} s: {what}")


def lease_rows(database_url: str) -> Leases:
    """Each site's lease: its epoch and holder."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            rows = c.execute(select(SiteLease.site, SiteLease.epoch, SiteLease.holder))
            return {str(site): (int(epoch), holder) for site, epoch, holder in rows}
    finally:
        engine.dispose()


def audit(result: TakeoverResult, database_url: str) -> bool:
    """Fill in the work orders and alarms; True once every fault has its work order and no
    `dry_run` alarm is active."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            orders = c.execute(
                select(WorkOrder.site, WorkOrder.equipment_id).where(WorkOrder.rule_id == RULE)
            )
            result.work_orders = dict(Counter(name(str(s), str(e)) for s, e in orders))
            active = c.execute(
                select(Alarm.site, Alarm.equipment_id, Alarm.rule_id).where(
                    Alarm.state == AlarmState.ACTIVE
                )
            ).all()
            result.stuck = sorted(name(str(s), str(e)) for s, e, rule in active if rule == RULE)
            result.other_active = sum(1 for _, _, rule in active if rule != RULE)
    finally:
        engine.dispose()
    result.after = lease_rows(database_url)
    return not result.missed and not result.stuck


async def run(tmp: Path, *, broker: tuple[str, int], database_url: str) -> TakeoverResult:
    run_id = uuid.uuid4().hex[:6]
    sites = [f"takeover-{run_id}-{n}" for n in range(SITES)]
    folder = tmp / "sites"
    folder.mkdir()
    for n, site in enumerate(sites):
        (folder / f"{site}.yaml").write_text(inventory(sites, n), encoding="utf-8")
    result = TakeoverResult(ttl_s=TTL_S, sites=sites)
    load = Load(sites)
    common: dict[str, Any] = {"site_file": folder, "database_url": database_url}
    async with (
        httpx.AsyncClient() as api,
        aiomqtt.Client(broker[0], broker[1], identifier=f"takeover-load-{run_id}") as mqtt,
    ):
        with cloud("cloud-a", tmp, broker=broker, **common) as (a, url_a):
            seen = await until(lambda: leases_of(api, url_a, a), "cloud-a holding the sites", 90)
            if seen["sites"] != sites:
                raise RuntimeError(f"cloud-a holds {seen['sites']}, not {sites}")
            with cloud("cloud-b", tmp, broker=broker, **common) as (b, url_b):

                async def split() -> bool:  # cloud-a gives one site back at a heartbeat
                    view_a, view_b = await leases_of(api, url_a, a), await leases_of(api, url_b, b)
                    held = (
                        len(view_a["sites"]) if view_a else 0,
                        len(view_b["sites"]) if view_b else 0,
                    )
                    return held == (SITES - 1, 1)

                await until(split, "cloud-a and cloud-b splitting the sites 2/1", 90)
                loading = asyncio.create_task(load.run(mqtt))
                try:
                    await inject_and_kill(result, load, a, api, url_b, b, database_url)
                    await until(lambda: _settled(load), "the faults to end", 60)
                    await until(
                        lambda: asyncio.to_thread(audit, result, database_url),
                        "a work order per fault and no dry_run alarm active",
                        90,
                        0.5,
                    )
                finally:
                    loading.cancel()
                    await asyncio.gather(loading, return_exceptions=True)
    result.published = load.published
    return result


async def _settled(load: Load) -> bool:
    return not load.active()


async def inject_and_kill(
    result: TakeoverResult,
    load: Load,
    a: subprocess.Popen[bytes],
    api: httpx.AsyncClient,
    url_b: str,
    b: subprocess.Popen[bytes],
    database_url: str,
) -> None:
    order = iter(name(site, pump) for site, pump in pumps(result.sites))
    kill_at = time.monotonic() + abs(BEFORE[0]) + 1.0

    async def fault_at(when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        pump = next(order)
        result.faulted.append(pump)
        load.fault(pump)

    faults = [asyncio.create_task(fault_at(kill_at + t)) for t in BEFORE + DURING]
    await asyncio.sleep(max(0.0, kill_at - time.monotonic()))
    result.before = await asyncio.to_thread(lease_rows, database_url)
    a.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    a.wait(timeout=10)

    async def b_holds() -> bool:
        view = await leases_of(api, url_b, b)
        return bool(view and view["sites"] == result.sites)

    await until(b_holds, "cloud-b taking every site over", result.bound_s + 30, 0.05)
    result.takeover_s = time.monotonic() - killed
    took = time.monotonic()
    faults += [asyncio.create_task(fault_at(took + t)) for t in AFTER]
    await asyncio.gather(*faults)


def render(result: TakeoverResult, took_s: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "**Passed**" if result.ok else "**Failed**"
    faults, orders = len(result.faulted), sum(result.work_orders.values())
    took = f"{result.takeover_s or float('nan'):.1f} s"
    counts = (len(result.missed), len(result.duplicates), len(result.stuck))
    epochs = ", ".join(f"{result.before[s][0]} to {result.after[s][0]}" for s in result.moved)
    return (
        "## Takeover between cloud processes\n\n"
        f"Run of {stamp} ({took_s:.0f} s). {verdict}: takeover of {len(result.moved)} sites in"
        f" **{took}** (lease {result.ttl_s:g} s, bound {result.bound_s:g} s), {faults} faults,"
        f" {orders} work orders, {counts[0]} missed, {counts[1]} duplicate, {counts[2]} alarms"
        " stuck.\n\n"
        "| case | lease | takeover | samples published | faults injected | work orders |"
        " missed | duplicate | alarms stuck | other alarms active |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| kill -9 the holder of {SITES - 1} of {SITES} sites, 2 processes | {result.ttl_s:g} s"
        f" | {took} | {result.published} | {faults} | {orders} | {counts[0]} | {counts[1]} |"
        f" {counts[2]} | {result.other_active} |\n\n"
        f"Two cloud processes on one PostgreSQL and one mosquitto serve a folder of {SITES}"
        f" sites, {PUMPS} pumps in all (every site's with the same ids, `pump-00`, …), each"
        f" publishing a sample every {PERIOD_S:g} s. `cloud-a`"
        f" starts alone and holds every site; `cloud-b` joins and they split the sites"
        f" {SITES - 1}/1. Pump faults (`dry_run`, each held {FAULT_S:g} s then cleared, the"
        f" sites in turn) start {', '.join(f'{-t:g}' for t in BEFORE)} s before the SIGKILL of"
        f" `cloud-a` (the last spans it), {', '.join(f'{t:g}' for t in DURING)} s after it"
        " (while no process holds its sites, the broker queues their samples in each site's"
        f" persistent session) and {', '.join(f'{t:g}' for t in AFTER)} s after `cloud-b`"
        " holds every site. The takeover is timed from the kill until `cloud-b`'s"
        " `/api/health` lists all the sites; the epochs of `cloud-a`'s sites went from"
        f" {epochs}. Each fault must raise exactly one `pump.dry_run` work order and its alarm"
        " must clear.\n\n"
        "Not covered here: a process that is alive but cut off from the database (it stops its"
        " work when its lease runs out on its own clock, tested in tests/cloud/cluster/).\n\n"
        f"*On: {machine()}. Re-run: `python -m chaos.takeover --write`.*\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the case on a mosquitto and a PostgreSQL of its own; print (and write) the section."""
    from benchmarks.pages import put_section
    from stack.pgserver import Postgres, postgres_dir
    from stack.services import Mosquitto

    parser = argparse.ArgumentParser(prog="python -m chaos.takeover", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {REPORT_PATH}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="plantroom-takeover-") as tmp_dir:
        tmp = Path(tmp_dir)
        pg_dir = postgres_dir("plantroom-takeover-pg-")
        broker, postgres = Mosquitto(tmp / "mosquitto"), Postgres(pg_dir)
        broker.start()
        try:
            postgres.start()
            try:
                result = asyncio.run(
                    run(tmp, broker=(broker.host, broker.port), database_url=postgres.url)
                )
            finally:
                postgres.stop()
                shutil.rmtree(pg_dir, ignore_errors=True)
        finally:
            broker.stop()
    section = render(result, time.monotonic() - started)
    print(section)
    if args.write:
        REPORT_PATH.write_text(put_section(REPORT_PATH.read_text(), "takeover", section))
        print(f"written to {REPORT_PATH}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
