"""docs/reliability.md from a campaign's results."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

from chaos.runner import (
    COMMIT_INTERVAL_S,
    POLL_INTERVAL_S,
    Campaign,
    ChaosConfig,
    FaultResult,
    commit_window_ms,
)

REPORT_PATH = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"

METHOD = """\
## Method

`make chaos` (`python -m chaos --write`) generates a site of {buildings} buildings with
{per_kind} devices of each kind per building ({devices} devices: lifts, pumps and fire panels
on simulated Modbus TCP gateways, lighting controllers on MQTT), and runs the whole stack
exactly as `plantroom demo` does — mosquitto and influxd as managed servers, the simulators,
one edge agent per building, the gateway and the cloud service as child processes. Agent
`edge-b1` reaches the broker through a TCP proxy owned by the suite. Once every device has
a reading in InfluxDB, the faults below are injected one at a time:

* **kill -9** — the process gets SIGKILL (no clean-up runs) and is started again after the
  outage, on the same ports with the same data directory;
* **cut** — the proxy drops the agent's broker connection and refuses new ones for the
  outage, then lets it through again.

While each outage lasts, a `dry_run` fault is injected on a pump not used before (one in the
edge agent's own building when an agent is the target) through the simulator control API.
After the process is back the suite waits (each with a deadline) until every device has a
reading newer than the restore (the recovery time), until the pump's work order exists, and
then clears the pump fault. It then checks:

* **readings** — from InfluxDB over InfluxQL: for every device, each `seq` from the newest
  one stored before the fault to the newest one stored at recovery must be present exactly
  once (`expected` = the length of that range summed over the devices, `found` = the distinct
  `seq`s present, `lost` = the difference; a `seq` stored at two timestamps is a duplicate);
* **faults** — the pump fault raised a work order (`pump.dry_run`) through the cloud API;
* **duplicates** — no two fault work orders of one device and rule, among those raised
  since the fault began and among all live ones;
* **alarms stuck** — once the pump fault is cleared, no alarm that became active after the
  fault began is still active.

A killed edge agent may lose the samples it had not yet committed to its buffer
(`PLANTROOM_EDGE_COMMIT_INTERVAL_S`, {commit:.1f} s, see `edge/buffer.py`). Such samples
never received a `seq` — `seq` is assigned in the same transaction that stores the sample —
so they cannot show as a gap; the suite reports instead the longest silence, over the
agent's devices, between the last stored reading and the kill, which must stay within the
commit interval plus two polls ({window} ms at a {poll:.0f} s poll).
"""

BROKER_LOSS = """\
### Loss after a broker crash

Readings are lost when mosquitto is killed, and the logs of the run show where: each edge
agent keeps its samples until the broker acknowledges them (PUBACK) and then deletes them,
as designed; after the restart the agents reconnect and send their backlog, but the gateway's
shared subscription (`$share/ingest/…`, MQTT 5, `clean_start=False`, session expiry 300 s,
`plantroom/subscriber.py`) is not there until the gateway itself has reconnected and subscribed
again. mosquitto 2.0 did not bring the gateway's shared subscription back from its
persistence file, so it accepted and acknowledged every sample published in between and
delivered it to no one. The lost `seq` ranges are the samples the agents published between
their reconnect and the gateway's `subscribed to $share/ingest/…` log line; the more the
gateway's reconnect backoff lags the agents', the larger the loss. Killing the gateway alone
loses nothing, because then the broker keeps the session and queues for it.

Ways to close it, none of which belongs to this suite: have the gateway reconnect on a short
fixed retry while the broker is down (narrows the window, does not close it); a broker that
persists shared-subscription sessions (EMQX, HiveMQ, VerneMQ, as the architecture foresees
past one machine); or an end-to-end acknowledgement, the edge keeping a sample until the
gateway has stored it.
"""

NOT_COVERED = """\
## What is not covered

* Power loss of the edge machine: kill -9 keeps the operating system's page cache, so a
  commit in SQLite's `synchronous=NORMAL` mode survives it; a power cut may also lose the
  commits since the last WAL checkpoint (`PLANTROOM_EDGE_BUFFER_SYNCHRONOUS=FULL` closes
  that window).
* Faults that begin and end inside an edge agent's outage: the agent does not poll while it
  is down, so a fault shorter than the outage is not observed at all. Faults here last
  until their work order exists.
* Two faults at once, a full disk, a slow (rather than cut) link, clock steps, and the
  loss of the data directories of mosquitto or influxd.
* PostgreSQL as the cloud database (the suite runs SQLite, as the demo does), several
  gateway or cloud replicas on one shared subscription, and TLS or broker logins.
* The cloud's own writes to InfluxDB (work-order KPIs, annotations) and webhooks.
"""


def _fmt_recovery(r: FaultResult) -> str:
    return "not recovered" if r.recovery_s is None else f"{r.recovery_s:.1f} s"


def render(config: ChaosConfig, campaign: Campaign, elapsed_s: float) -> str:
    results = campaign.results
    passed = bool(results) and all(r.ok for r in results)
    lines = [
        "# Reliability under fire",
        "",
        f"Run of {campaign.started_at.strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{platform.node() or 'this machine'} ({platform.machine()}, Python "
        f"{platform.python_version()}): {config.devices} simulated devices, "
        f"{len(results)} faults in {elapsed_s / 60:.1f} minutes, all devices reporting "
        f"{campaign.settle_s:.0f} s after start. "
        f"**{'Passed' if passed else 'FAILED'}**: "
        f"{sum(r.audit.lost for r in results)} readings lost, "
        f"{sum(r.missed_faults for r in results)} faults missed, "
        f"{sum(len(r.duplicate_work_orders) for r in results)} duplicate work orders, "
        f"{sum(len(r.alarms_stuck) for r in results)} alarms stuck.",
        "",
        "| fault | outage | readings expected | found | lost | duplicate readings "
        "| faults injected | work orders raised | duplicate work orders | alarms stuck "
        "| recovery | other work orders |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.fault.label} | {r.fault.outage_s:.0f} s | {r.audit.expected} "
            f"| {r.audit.found} | {r.audit.lost} | {r.audit.duplicates} "
            f"| {r.faults_injected} | {r.work_orders_raised} "
            f"| {len(r.duplicate_work_orders)} | {len(r.alarms_stuck)} "
            f"| {_fmt_recovery(r)} | {r.other_work_orders} |"
        )
    lines += ["", "*Other work orders* are the ones raised during the fault for other devices"]
    lines += [
        "(lost communication while a broker link was down for over a minute, for example);",
        "each is checked for duplicates like the pump's.",
        "",
    ]
    notes: list[str] = []
    for r in results:
        if r.silence_before_kill_ms is not None:
            verdict = "within" if r.within_commit_window else "OUTSIDE"
            notes.append(
                f"* {r.fault.label}: longest silence before the kill "
                f"{r.silence_before_kill_ms} ms, {verdict} the {commit_window_ms()} ms window; "
                f"samples polled in it had no `seq` yet and are the only possible loss."
            )
        if r.duplicate_work_orders:
            notes.append(
                f"* {r.fault.label}: duplicate work orders {', '.join(r.duplicate_work_orders)}"
            )
        if r.alarms_stuck:
            notes.append(f"* {r.fault.label}: alarms stuck {', '.join(r.alarms_stuck[:10])}")
        notes.extend(f"* {r.fault.label}: {n}" for r in [r] for n in r.notes)
    if notes:
        lines += ["Findings of this run:", "", *notes, ""]
    if any(r.fault.process == "mosquitto" and r.audit.lost for r in results):
        lines += [BROKER_LOSS, ""]
    lines.append(
        METHOD.format(
            buildings=config.buildings,
            per_kind=config.per_kind,
            devices=config.devices,
            commit=COMMIT_INTERVAL_S,
            window=commit_window_ms(),
            poll=POLL_INTERVAL_S,
        )
    )
    lines.append(NOT_COVERED)
    lines.append(
        f"Generated by `python -m chaos --write` on {datetime.now(UTC).strftime('%Y-%m-%d')}; "
        "`make test` runs a reduced campaign (tests/integration/test_chaos.py)."
    )
    return "\n".join(lines) + "\n"
