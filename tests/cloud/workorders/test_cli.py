"""`plantroom wo …` against the API served by uvicorn on loopback: list, acknowledge, start,
comment and resolve a job as a technician at a terminal would, with the token from the
environment; clear errors for a refused action, a bad token and no server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.cli import wo_app
from cloud.enums import Role
from cloud.state import AppState
from plantroom.ports import free_port
from tests.cloud.harness import over_http, raise_fault, run_cli, settings_for, signed_up

pytestmark = pytest.mark.integration


class Served:
    def __init__(self, url: str, state: AppState) -> None:
        self.url = url
        self.state = state
        self.tokens: dict[str, str] = {}

    def fault(self, equipment_id: str, rule_id: str, *, clear: bool = False) -> None:
        now = self.state.clock()
        raise_fault(self.state, equipment_id, rule_id, now=now, clear=clear, values={})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = settings_for(tmp_path)
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    with over_http(app) as (host, port):
        state: AppState = app.state.cloud
        s = Served(f"http://{host}:{port}", state)
        s.tokens = signed_up(state, {"tech1": Role.TECHNICIAN, "tech2": Role.TECHNICIAN})
        yield s


def wo(served: Served, who: str | None, *args: str) -> tuple[int, str]:
    result = run_cli(wo_app, "wo", served.url, served.tokens[who] if who else None, *args)
    return result.exit_code, result.output


def test_a_technician_works_a_job_from_the_terminal(served: Served) -> None:
    served.fault("p1", "pump.dry_run")
    code, out = wo(served, "tech1", "list", "--status", "open")
    assert code == 0, out
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "number",
        "status",
        "priority",
        "building",
        "equipment",
        "owner",
        "title",
    ]
    assert lines[1].split()[:6] == ["WO-000001", "open", "urgent", "b1", "p1", "-"]
    assert lines[-1] == "1 of 1"

    code, out = wo(served, "tech1", "ack", "WO-000001", "--note", "on my way")
    assert (code, out.strip()) == (0, "WO-000001 is acknowledged (owner tech1)")
    code, out = wo(served, "tech2", "ack", "1")
    assert code == 1
    assert "cannot acknowledge a work order that is acknowledged" in out
    assert "(HTTP 409 invalid_transition)" in out
    code, out = wo(served, "tech1", "start", "1")
    assert (code, out.strip()) == (0, "WO-000001 is in_progress (owner tech1)")
    code, out = wo(served, "tech1", "comment", "1", "strainer blocked")
    assert code == 0, out
    code, out = wo(served, "tech1", "resolve", "1", "--note", "cleaned")
    assert code == 1 and "HTTP 409 fault_active" in out
    served.fault("p1", "pump.dry_run", clear=True)
    code, out = wo(served, "tech1", "resolve", "1", "--note", "strainer cleaned")
    assert (code, out.strip()) == (0, "WO-000001 is resolved (owner tech1)")
    code, out = wo(served, "tech1", "list", "--mine", "--json")
    assert code == 0 and '"status": "resolved"' in out

    code, out = wo(served, "tech1", "show", "WO-000001")
    assert code == 0
    trail = [line.split()[2:4] for line in out.splitlines()[3:]]
    assert trail == [
        ["system", "created"],
        ["tech1", "acknowledge"],
        ["tech1", "start"],
        ["tech1", "comment"],
        ["system", "fault_cleared"],
        ["tech1", "resolve"],
    ]
    assert out.count("[cli]") == 4  # every action from the terminal is recorded as such


def test_clear_errors(served: Served) -> None:
    code, out = wo(served, None, "list")
    assert code == 2 and "no API token: pass --token or set PLANTROOM_TOKEN" in out
    code, out = wo(served, "tech1", "list", "--token", "prt_nonsense")
    assert code == 2 and "the token is unknown, expired or revoked (HTTP 401" in out
    code, out = wo(served, "tech1", "show", "WO-999999")
    assert code == 1 and "does not exist (HTTP 404 not_found)" in out
    code, out = wo(served, "tech1", "list", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "cannot reach the cloud API" in out
