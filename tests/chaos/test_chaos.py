"""The reduced chaos campaign: the whole stack on a small generated site, each process killed
with SIGKILL and restarted in turn, one edge agent's broker link cut and then slowed down
and reset at random, two processes killed together, and, on a second small stack whose
cloud runs on PostgreSQL, PostgreSQL killed; the cloud killed during a burst of e-mail;
every reading, fault, work order, alarm and message accounted for. `make chaos` runs the
full campaign, which also fills the edge and gateway buffers' disks
(test_edge_buffer_full_disk.py and test_gateway_buffer_full_disk.py cover that here).

Also the pure accounting the campaign relies on, and the link proxy on a real broker.
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections import Counter

import pytest

from chaos.audit import audit_seqs, duplicate_work_orders, missing_ranges
from chaos.mail import STOPPED, audit_mail
from chaos.proxy import Degradation, LinkProxy
from chaos.report import render
from chaos.runner import REDUCED, Campaign
from plantroom.ports import free_port
from tests.harness import wait_for


def test_missing_ranges_finds_every_run() -> None:
    assert missing_ranges([3, 4, 7, 9], 2, 11) == [(2, 2), (5, 6), (8, 8), (10, 11)]
    assert missing_ranges(range(5), 0, 4) == []


def test_audit_counts_lost_and_duplicated_seqs() -> None:
    found = audit_seqs(
        before={"p1": 10, "p2": 5},
        after={"p1": 14, "p2": 7, "p3": 2},
        seen={"p1": [9, 10, 11, 11, 13, 14], "p2": [5, 6, 7], "p3": [0, 1, 2]},
    )
    assert (found.expected, found.found, found.lost, found.duplicates) == (11, 10, 1, 1)
    assert found.gaps == {"p1": [(12, 12)]}


def test_duplicate_work_orders_are_per_equipment_and_rule() -> None:
    orders = [
        {"id": 1, "number": "WO-1", "kind": "fault", "equipment_id": "p1", "rule_id": "r"},
        {"id": 2, "number": "WO-2", "kind": "fault", "equipment_id": "p2", "rule_id": "r"},
        {"id": 3, "number": "WO-3", "kind": "fault", "equipment_id": "p1", "rule_id": "r"},
        {"id": 4, "number": "WO-4", "kind": "pm", "equipment_id": "p1", "rule_id": None},
    ]
    assert duplicate_work_orders(orders) == ["WO-3"]


def test_mail_audit_finds_messages_sent_twice_lost_or_unaccounted() -> None:
    rows = [
        {"id": 1, "status": "sent", "last_error": None},
        {"id": 2, "status": "acknowledged", "last_error": None},
        {"id": 3, "status": "failed", "last_error": STOPPED},
        {"id": 4, "status": "failed", "last_error": STOPPED},
    ]
    clean = audit_mail(rows, Counter({1: 1, 2: 1, 3: 1}))
    assert clean.ok, clean.describe()
    assert (clean.sent, clean.stopped, clean.stopped_arrived, clean.received) == (2, 2, 1, 3)

    rows += [
        {"id": 5, "status": "sent", "last_error": None},
        {"id": 6, "status": "queued", "last_error": None},
        {"id": 7, "status": "failed", "last_error": "SMTP refused"},
    ]
    found = audit_mail(rows, Counter({1: 2, 2: 1, 3: 1, 9: 1}))
    assert not found.ok
    assert found.duplicates == [1] and found.lost == [5] and found.unsettled == [6]
    assert found.failed_other == ["7: SMTP refused"] and found.strays == [9]
    assert "sent twice: 1" in found.describe() and "lost: 5" in found.describe()


@pytest.mark.integration
def test_link_proxy_cuts_and_restores(mosquitto: object) -> None:
    host, port = mosquitto.host, mosquitto.port  # type: ignore[attr-defined]

    def connect_and_read() -> bytes:
        with socket.create_connection((host, listen), timeout=2) as s:
            try:
                s.sendall(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04prox")
                return s.recv(4)
            except ConnectionResetError:
                return b""

    listen = free_port()
    with LinkProxy(host, listen, host, port) as proxy:
        assert connect_and_read()[:1] == b"\x20"  # CONNACK through the proxy
        proxy.cut()
        assert connect_and_read() == b""  # accepted and closed at once
        assert proxy.refused >= 1
        proxy.restore()
        wait_for(lambda: connect_and_read()[:1] == b"\x20", "a CONNACK after restore", within=5)


@pytest.mark.integration
def test_link_proxy_degrades_with_latency_and_resets(mosquitto: object) -> None:
    host, port = mosquitto.host, mosquitto.port  # type: ignore[attr-defined]
    listen = free_port()
    with LinkProxy(host, listen, host, port) as proxy:
        # a round trip takes 0.4 to 0.6 s; the first reset comes after 1.5 s
        proxy.degrade(Degradation(latency_s=0.2, jitter_s=0.1, reset_every_s=(1.5, 1.5)))
        with socket.create_connection((host, listen), timeout=5) as s:
            s.sendall(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04slow")
            assert s.recv(4)[:1] == b"\x20"  # CONNACK, late but whole
            wait_for(lambda: proxy.resets >= 1, "a reset of the degraded link", within=5)
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(4) == b""  # the connection was torn down
        proxy.restore()
        assert not proxy.is_cut


FAULTS = [
    "kill -9 mosquitto",
    "kill -9 influxd",
    "kill -9 gateway",
    "kill -9 edge-b1",
    "kill -9 cloud",
    "cut edge-b1 ↔ broker",
    "slow, lossy edge-b1 ↔ broker",
    "kill -9 gateway + edge-b1",
    "kill -9 cloud + edge-b1",
    "kill -9 cloud during a burst of 8 jobs' e-mail",
    "kill -9 postgres (cloud on PostgreSQL)",
]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    run = Campaign(REDUCED, tmp_path_factory.mktemp("chaos"), io.StringIO())
    run.run()
    return run


@pytest.mark.integration
@pytest.mark.timeout(420)
@pytest.mark.parametrize("label", FAULTS)
def test_reduced_chaos_campaign_accounts_for_everything(campaign: Campaign, label: str) -> None:
    report = render(REDUCED, campaign, 0.0)
    [r] = [r for r in campaign.results if r.fault.label == label]
    if r.skipped is not None:
        pytest.skip(r.skipped)
    assert r.recovery_s is not None, report
    assert r.audit.expected > 0, report
    assert r.audit.lost == 0 and r.audit.duplicates == 0, report
    assert r.faults_injected == len(r.fault.processes), report
    assert all(r.orders_per_pump[p] == 1 for p in r.pumps) and r.missed_faults == 0, report
    assert r.checks_failed == [], report
    assert r.duplicate_work_orders == [] and r.alarms_stuck == [], report
    assert r.within_commit_window, report
    if r.fault.action == "mail":
        assert r.mail is not None and r.mail.rows > 0, report
        assert r.mail.ok, report
