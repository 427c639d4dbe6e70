"""docs/reliability.md from a campaign's results."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

from chaos.faults import (
    COMMIT_INTERVAL_S,
    POLL_INTERVAL_S,
    ChaosConfig,
    FaultResult,
    commit_window_ms,
)
from chaos.runner import Campaign

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
  outage, then lets it through again;
* **slow, lossy** — the proxy delays every chunk each way by {latency_ms:.0f} ms plus up to
  {jitter_ms:.0f} ms of random jitter (the stream stays in order) and resets every connection
  through it after a random {reset_lo:.0f} to {reset_hi:.0f} s. A TCP proxy cannot drop single
  segments (the kernels on both sides retransmit them, and dropping bytes inside the stream
  would corrupt it), so loss is modelled as what it costs the application: late data (a lost
  segment arrives after its retransmission) and torn-down connections (a link that loses too
  much is reset and reconnected);
* **two at once** — two processes get SIGKILL together and come back together, with a pump
  fault in each building concerned;
* **full disk** — the buffers of `edge-b1` and of the gateway live on tmpfs mounts of their
  own (`mount -t tmpfs`, root only; the case is skipped, saying why, where mounting is
  refused). The proxy cuts `edge-b1`'s link and InfluxDB is killed, so both buffers must
  grow; the agent is restarted cleanly on its nearly full disk (a fresh SQLite write-ahead
  log has to grow at once) and the gateway's disk is filled completely with a ballast file.
  After the outage the ballast files go, the link comes back and InfluxDB restarts. Besides
  the audit below, each of the two processes must have logged the full disk;
* **kill -9 the cloud during an e-mail burst** — the cloud is asked for {mail_jobs} jobs in
  one building through its API (each is told by e-mail to whom the cloud dispatches it, the
  demo's users having e-mail addresses, through the demo's SMTP server at the channel's rate
  limit: 10 at once, then 2 a second); once a
  quarter of the jobs' messages have arrived the cloud gets SIGKILL, and it is started again
  after the outage;
* **PostgreSQL** — a second, small stack ({pg_devices} devices) runs the cloud on PostgreSQL
  (`plantroom demo --postgres`); the postmaster gets SIGKILL during a pump fault and is
  started again after the outage.

While each outage lasts, a `dry_run` fault is injected on one pump not used before per
process hit (in an edge agent's own building for an agent, in another building for any
other process) through the simulator control API. After the outage the suite waits (each
with a deadline) until every device has a reading newer than the restore (the recovery
time), until every pump's work order exists, and then clears the pump faults. It then
checks:

* **readings** — from InfluxDB over InfluxQL: for every device, each `seq` from the newest
  one stored before the fault to the newest one stored at recovery must be present exactly
  once (`expected` = the length of that range summed over the devices, `found` = the distinct
  `seq`s present, `lost` = the difference; a `seq` stored at two timestamps is a duplicate);
* **faults** — each pump fault raised exactly one work order (`pump.dry_run`), through the
  cloud API;
* **duplicates** — no two fault work orders of one device and rule, among those raised
  since the fault began and among all live ones;
* **alarms stuck** — once the pump fault is cleared, no alarm that became active after the
  fault began is still active;
* **e-mail** (the burst case) — once every outbox row of the burst's jobs is `sent` or
  `failed` (`GET /api/work-orders/{{ref}}/notifications`), each is matched to the messages the
  SMTP server kept by their `X-Plantroom-Message` key: a `sent` row's message arrived exactly
  once; a row `failed` with "unknown: the service stopped while sending" (the send the kill
  interrupted) arrived at most once; no message arrived twice, no row stayed queued and none
  failed for another reason.

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

PROVES = """\
## What each case proves

* **kill -9 mosquitto, influxd, gateway, an edge agent, the cloud** — each process comes
  back from a crash on its own data and the pipeline catches up: samples wait in the edge
  buffer (until PUBACK), in the broker's persistent session queue (until the gateway's
  acknowledgement) or in the gateway's disk buffer (until InfluxDB has them), and the
  cloud's rule state is rebuilt from its database, so the fault still ends in one work order.
* **cut** — an agent cut off for minutes keeps polling into its buffer and delivers the
  whole backlog, in order, when the link returns.
* **slow, lossy link** — reconnects in the middle of a backlog, with PUBACKs late or lost
  with the connection, neither lose nor duplicate a reading in InfluxDB (a sample whose
  PUBACK was lost is sent again and stored once, InfluxDB writes being idempotent by
  timestamp), and an alarm still reaches the cloud through a slow link.
* **two at once** — recovery does not depend on order: with the gateway and an agent down
  together the broker queues for the gateway while the agent's buffer holds its own
  samples; with the cloud and an agent down together both pump faults, one of them read
  from the agent's buffer after its restart, end in exactly one work order each.
* **full disk** — a full disk under the edge buffer costs no alarm and, for an outage
  within the bound, no reading: the agent logs it and holds samples in memory (at most
  10,000; measurements make room first, alarm and state samples never do; `buffer_disk_full`,
  `buffer_held` in its health report) and stores them once the disk has room. A full disk
  under the gateway's buffer stops acknowledging, not ingesting for good: the batch waits
  unacknowledged (`buffer_full`, `buffer_full_errors`, an ERROR log), the broker keeps what
  follows, and all of it reaches InfluxDB once there is room or InfluxDB is back.
* **kill -9 the cloud during an e-mail burst** — messages to people are sent at most once
  and never silently lost: the outbox row is claimed (`sending`) and committed before the
  SMTP conversation and marked `sent` after it, so a kill leaves at most the sends under way
  in doubt; the restarted cloud fails those with "the service stopped while sending" (the
  job shows it) rather than sending them again, and sends every row still `queued`.
* **PostgreSQL kill -9** — the cloud survives losing its database under load: the failed
  batches are retried, the rule state is reloaded once the database answers again, and
  the pump fault raised while it was down ends in exactly one work order. (This case found
  that a reload failing while the database was down left the rule engine tracking no
  equipment, so every later message was ignored and the fault was missed; `cloud/monitor.py`
  now reloads before the next batch.)
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
* Clock steps, the loss of the data directories of mosquitto, influxd or PostgreSQL, and a
  disk that fills up under the cloud's database or under the broker's persistence file.
* Loss of single TCP segments (see *slow, lossy* above) and a link that stays slow for hours.
* Several gateway or cloud replicas on one shared subscription, and TLS.
* The cloud's own writes to InfluxDB (work-order KPIs, annotations) and webhooks.
* Chat and SMS channels across a kill -9 (the e-mail case above covers the outbox they share),
  and a mail server that accepted a message the cloud then failed as stopped: the person may
  have it although the job says failed (the report counts these as "arrived").
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
        f"{sum(len(r.alarms_stuck) for r in results)} alarms stuck, "
        f"{sum(len(r.mail.duplicates) for r in results if r.mail)} e-mails sent twice, "
        f"{sum(len(r.mail.lost) + len(r.mail.unsettled) for r in results if r.mail)} lost.",
        "",
        "| fault | outage | readings expected | found | lost | duplicate readings "
        "| faults injected | work orders raised | duplicate work orders | alarms stuck "
        "| recovery | other work orders |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.skipped is not None:
            lines.append(f"| {r.fault.label} | skipped: {r.skipped} |" + " |" * 10)
            continue
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
        "each is checked for duplicates like the pump's. The e-mail burst's own jobs are not",
        "counted.",
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
        if r.mail is not None:
            verdict = "" if r.mail.ok else " **FAILED**"
            notes.append(f"* {r.fault.label}: e-mail: {r.mail.describe()}{verdict}")
        notes.extend(f"* {r.fault.label}: {n}" for r in [r] for n in r.notes)
    if notes:
        lines += ["Findings of this run:", "", *notes, ""]
    if any("mosquitto" in r.fault.processes and r.audit.lost for r in results):
        lines += [BROKER_LOSS, ""]
    lines.append(
        METHOD.format(
            buildings=config.buildings,
            per_kind=config.per_kind,
            devices=config.devices,
            commit=COMMIT_INTERVAL_S,
            latency_ms=config.link.latency_s * 1000,
            jitter_ms=config.link.jitter_s * 1000,
            reset_lo=config.link.reset_every_s[0],
            reset_hi=config.link.reset_every_s[1],
            pg_devices=2 * config.pg_per_kind * 4,
            mail_jobs=config.mail_jobs,
            window=commit_window_ms(),
            poll=POLL_INTERVAL_S,
        )
    )
    lines.append(PROVES)
    lines.append(NOT_COVERED)
    lines.append(
        f"Generated by `python -m chaos --write` on {datetime.now(UTC).strftime('%Y-%m-%d')}; "
        "`make test` runs a reduced campaign (tests/chaos/test_chaos.py) without the "
        "full-disk case, which tests/edge/test_buffer_full_disk.py and "
        "tests/gateway/test_buffer_full_disk.py cover."
    )
    return "\n".join(lines) + "\n"
