"""Chat messages through Apprise as each service receives them: every request goes over real
HTTP to a local receiver (a requests transport adapter sends it to 127.0.0.1 and keeps the
service's host in a header), which checks the payload against the vendor's webhook docs."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from cloud.notify.channels import Channel, Style
from cloud.notify.sender import AppriseSender, SendFailed
from cloud.notify.templates import Rendered

pytestmark = pytest.mark.integration

ORIGINAL_HOST = "X-Original-Host"
MESSAGE = Rendered("[Plantroom] WO-000001 urgent", "**New job**\n- WO-000001 pump-a1", False)


@dataclass
class Request:
    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Request] = []


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        size = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        url = urlsplit(self.path)
        request = Request(
            self.headers.get(ORIGINAL_HOST, ""),
            url.path,
            parse_qs(url.query),
            dict(self.headers),
            self.rfile.read(size),
        )
        self.server.received.append(request)
        # each service's "accepted" answer
        answer: Any = {"ok": True, "result": {"message_id": 1}, "errcode": 0, "code": 0}
        out = b"ok" if request.host == "hooks.slack.com" else json.dumps(answer).encode()
        refused = request.path.endswith("/refuse")
        out = b"invalid_token" if refused else out
        self.send_response(403 if refused else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, name="test-chat-receiver")
    thread.start()
    port = server.server_address[1]

    class Local(HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kw: Any) -> Any:
            url = urlsplit(request.url or "")
            request.headers[ORIGINAL_HOST] = url.hostname or ""
            request.url = urlunsplit(("http", f"127.0.0.1:{port}", url.path, url.query, ""))
            return super().send(request, *args, **kw)

    local = Local()
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: local)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        local.close()


def wecom(r: Request) -> None:  # developer.work.weixin.qq.com: group bot
    assert r.host == "qyapi.weixin.qq.com" and r.path == "/cgi-bin/webhook/send"
    assert r.query["key"] == ["bot-key-0123"]
    body = r.json()
    kind = body["msgtype"]
    assert kind in ("text", "markdown") and "WO-000001" in body[kind]["content"]


def dingtalk(r: Request) -> None:  # open.dingtalk.com: custom robot
    assert r.host == "oapi.dingtalk.com" and r.path == "/robot/send"
    assert r.query["access_token"] == ["a" * 64]
    body = r.json()
    kind = body["msgtype"]
    assert kind in ("text", "markdown")
    text = body[kind]["content" if kind == "text" else "text"]
    assert "WO-000001" in text


def feishu(r: Request) -> None:  # open.feishu.cn: custom bot
    assert r.host == "open.feishu.cn"
    assert r.path.startswith("/open-apis/bot/v2/hook/0123abcd-0123-abcd-0123-0123456789ab")
    body = r.json()
    assert body["msg_type"] == "text" and "WO-000001" in body["content"]["text"]


def slack(r: Request) -> None:  # api.slack.com: incoming webhooks
    assert r.host == "hooks.slack.com" and r.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazk"
    body = r.json()
    texts = [body.get("text", "")] + [a.get("text", "") for a in body.get("attachments", [])]
    texts += [json.dumps(b) for b in body.get("blocks", [])]
    assert any("WO-000001" in t for t in texts)


def teams(r: Request) -> None:  # Teams Workflows: a message with an Adaptive Card
    assert r.host == "prod-00.westus.logic.azure.com"
    assert r.path.startswith("/workflows/643e69f83c8944438d68119179a10a64/")
    assert r.query["sig"] == ["sig0123abc"]
    body = r.json()
    assert body["type"] == "message"
    [card] = body["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and "WO-000001" in json.dumps(card)


def telegram(r: Request) -> None:  # core.telegram.org/bots/api#sendmessage
    assert r.host == "api.telegram.org"
    assert r.path == "/bot123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr/sendMessage"
    body = r.json()
    assert body["chat_id"] == -1001234567 and "WO-000001" in body["text"]


def ntfy(r: Request) -> None:  # docs.ntfy.sh/publish: JSON publishing to the server root
    assert r.host == "ntfy.example.com" and r.path == "/"
    body = r.json()
    assert body["topic"] == "plantroom-techs" and body["title"] == MESSAGE.title
    assert "WO-000001" in body["message"]


def webhook(r: Request) -> None:  # Apprise's JSON webhook
    assert r.host == "hooks.example.com" and r.path == "/plantroom/hook"
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["title"] == MESSAGE.title and "WO-000001" in body["message"]


TOKEN = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
# channel → (the URL as in docs/notifications.md, an address, the receiver's check)
SERVICES: dict[str, tuple[str, str, Callable[[Request], None]]] = {
    "wecom": ("wecombot://{address}", "bot-key-0123", wecom),
    "dingtalk": ("dingtalk://{address}", "a" * 64, dingtalk),
    "feishu": ("feishu://{address}", "0123abcd-0123-abcd-0123-0123456789ab", feishu),
    "slack": ("slack://{address}", "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazk", slack),
    "teams": (
        "workflows://{address}",
        "prod-00.westus.logic.azure.com:443/643e69f83c8944438d68119179a10a64/sig0123abc",
        teams,
    ),
    "telegram": (f"tgram://{TOKEN}/{{address}}", "-1001234567", telegram),
    "ntfy": ("ntfys://ntfy.example.com/{address}", "plantroom-techs", ntfy),
    "webhook": ("jsons://hooks.example.com/{address}", "plantroom/hook", webhook),
}


@pytest.mark.parametrize("name", SERVICES)
def test_each_chat_service_gets_its_documented_payload(receiver: Receiver, name: str) -> None:
    url, address, check = SERVICES[name]
    channel = Channel(name, url, Style.CHAT, 60.0, 5)
    AppriseSender(timeout_s=5.0).send(channel, address, MESSAGE, "<outbox-1.x@plantroom>")
    [request] = receiver.received
    check(request)


def test_a_service_that_refuses_is_a_send_failure_with_its_answer(receiver: Receiver) -> None:
    channel = Channel("slack", "slack://{address}", Style.CHAT, 60.0, 5)
    with pytest.raises(SendFailed, match="channel slack"):
        AppriseSender(timeout_s=5.0).send(channel, "T1JJ3T3L2/A1BRTD4JX/refuse", MESSAGE, "k")
    assert len(receiver.received) == 1
