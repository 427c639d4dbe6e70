"""`plantroom dashboards push` against a small stand-in for Grafana's HTTP API.

The stand-in answers the four endpoints the upload uses the way Grafana documents them
(folders, dashboards/db, datasources/uid) and records what it was sent, so the tests check
the requests made and how every kind of failure is reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from dashboards.build import load_generated
from dashboards.cli import app
from dashboards.errors import GrafanaAuthError, GrafanaError, GrafanaUnreachable
from dashboards.push import GrafanaPublisher, push_dashboards
from plantroom.errors import PlantroomError
from plantroom.ports import free_port

TOKEN = "glsa_test_token"


@dataclass
class FakeGrafana:
    url: str = ""
    folders: dict[str, str] = field(default_factory=dict)
    datasources: set[str] = field(default_factory=lambda: {"plantroom-influxdb"})
    saved: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    save_status: int = 200
    save_message: str = ""


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"message": "invalid API key"})
                return False
            return True

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            if not self._authorised():
                return
            if self.path.startswith("/api/folders/"):
                uid = self.path.rsplit("/", 1)[1]
                if uid in state.folders:
                    self._reply(200, {"uid": uid, "title": state.folders[uid]})
                else:
                    self._reply(404, {"message": "folder not found"})
            elif self.path.startswith("/api/datasources/uid/"):
                uid = self.path.rsplit("/", 1)[1]
                found = uid in state.datasources
                self._reply(200 if found else 404, {"uid": uid} if found else {"message": "nf"})
            else:
                self._reply(404, {"message": "not found"})

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not self._authorised():
                return
            if self.path == "/api/folders":
                state.folders[body["uid"]] = body["title"]
                self._reply(200, {"uid": body["uid"], "title": body["title"]})
            elif self.path == "/api/dashboards/db":
                if state.save_status != 200:
                    self._reply(state.save_status, {"message": state.save_message})
                    return
                state.saved.append(body)
                uid = body["dashboard"]["uid"]
                self._reply(
                    200,
                    {"status": "success", "uid": uid, "url": f"/d/{uid}/x", "version": 3},
                )
            else:
                self._reply(404, {"message": "not found"})

    return Handler


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="fake-grafana", daemon=True
    )
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_push_saves_every_dashboard_into_the_plantroom_folder(grafana: FakeGrafana) -> None:
    dashboards = load_generated()
    report = push_dashboards(dashboards, grafana.url, TOKEN)
    assert grafana.folders == {"plantroom": "Plantroom"}
    assert [s["dashboard"]["uid"] for s in grafana.saved] == [d["uid"] for d in dashboards]
    for sent in grafana.saved:
        assert sent["overwrite"] is True and sent["folderUid"] == "plantroom"
        assert sent["dashboard"]["id"] is None and sent["dashboard"]["schemaVersion"] == 39
    assert [p.uid for p in report.dashboards] == [d["uid"] for d in dashboards]
    assert report.dashboards[0].url == f"{grafana.url}/d/{dashboards[0]['uid']}/x"
    assert report.dashboards[0].version == 3
    assert report.datasource_found

    # A second push finds the folder and only overwrites.
    push_dashboards(dashboards, grafana.url, TOKEN)
    assert [r for r in grafana.requests if r == ("POST", "/api/folders")] == [
        ("POST", "/api/folders")
    ]


def test_push_reports_a_missing_datasource(grafana: FakeGrafana) -> None:
    grafana.datasources.clear()
    report = push_dashboards(load_generated()[:1], grafana.url, TOKEN)
    assert not report.datasource_found


def test_a_wrong_token_is_an_auth_error(grafana: FakeGrafana) -> None:
    with pytest.raises(GrafanaAuthError, match=r"refused the token .*401.*check --token"):
        push_dashboards(load_generated(), grafana.url, "wrong")
    assert not grafana.saved


def test_forbidden_and_rejected_saves_are_explained(grafana: FakeGrafana) -> None:
    grafana.save_status, grafana.save_message = 403, "Access denied"
    with pytest.raises(GrafanaAuthError, match=r"denied permission .*Editor"):
        push_dashboards(load_generated(), grafana.url, TOKEN)
    grafana.save_status, grafana.save_message = 400, "Cannot save provisioned dashboard"
    with pytest.raises(GrafanaError, match=r"Cannot save provisioned dashboard; .*provisioned"):
        push_dashboards(load_generated(), grafana.url, TOKEN)
    grafana.save_status, grafana.save_message = 500, "database is locked"
    with pytest.raises(GrafanaError, match=r"failed to save dashboard .*500.*database is locked"):
        push_dashboards(load_generated(), grafana.url, TOKEN)


def test_nothing_listening_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GrafanaUnreachable, match=rf"cannot reach Grafana at {url}"):
        push_dashboards(load_generated(), url, TOKEN, timeout=2)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(GrafanaError, match="not an http"):
        GrafanaPublisher("localhost:3000", TOKEN)
    with pytest.raises(GrafanaAuthError, match="no Grafana token"):
        GrafanaPublisher("http://localhost:3000", " ")
    assert issubclass(GrafanaError, PlantroomError)


def test_cli_push(grafana: FakeGrafana) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["push", "--grafana-url", grafana.url, "--token", TOKEN])
    assert ok.exit_code == 0, ok.output
    assert "plantroom-lifts: Plantroom · Lifts (version 3)" in ok.output
    bad = runner.invoke(app, ["push", "--grafana-url", grafana.url, "--token", "nope"])
    assert bad.exit_code == 2
    assert "plantroom: Grafana at" in bad.output and "401" in bad.output
