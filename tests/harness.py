"""What every package's tests share: the repository root, the site inventories in tests/data/,
waiting on a condition with a deadline, unique names on the shared servers, and reading
InfluxDB or the API over HTTP.

A test talks to a running cloud as the console does: a request answered `503` with
`Retry-After` (the API's admission control shedding a burst, e.g. while a browser loads a page
on a busy machine) is sent again after that time, a few times (`request`, `call_api`).

Tests wait on conditions, never on sleeps: `wait_for` polls from a plain (threaded) test,
`wait_for_async` from a coroutine without blocking the event loop. Both return the probe's
first truthy answer and fail naming what was awaited, with the last answer seen.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, which the tests marked `browser` drive


def site_yaml(name: str, ports: Mapping[int, int] | None = None, **site: str) -> str:
    """The inventory tests/data/`name`.yaml, its `site` fields (id, timezone) replaced by `site`
    and each connection's port `p` by `ports[p]` (a free port in place of 5020)."""
    text = (DATA / f"{name}.yaml").read_text(encoding="utf-8")
    if not site and not ports:
        return text
    doc = yaml.safe_load(text)
    doc["site"].update(site)
    for building in doc["buildings"]:
        for equipment in building["equipment"]:
            connection = equipment["connection"]
            if connection.get("port") in (ports or {}):
                connection["port"] = (ports or {})[connection["port"]]
    return yaml.safe_dump(doc, sort_keys=False)


def write_site(path: Path, name: str, ports: Mapping[int, int] | None = None, **site: str) -> Path:
    """Write `site_yaml(name, ports, **site)` to `path` (its folder made) and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(site_yaml(name, ports, **site), encoding="utf-8")
    return path


class _Deadline:
    """`within` seconds from now, and the failure that names what was awaited."""

    def __init__(self, within: float, what: str) -> None:
        self.within = within
        self.what = what
        self.end = time.monotonic() + within

    def passed(self) -> bool:
        return time.monotonic() > self.end

    def failure(self, last: object) -> AssertionError:
        return AssertionError(
            f"timed out after {self.within:g}s waiting for {self.what} (last: {last!r})"
        )


def wait_for(
    probe: Callable[[], T | None], what: str, within: float = 10.0, interval: float = 0.1
) -> T:
    """Call `probe` until it returns something truthy and return that; fail after `within` s."""
    deadline = _Deadline(within, what)
    while True:
        last = probe()
        if last:
            return last
        if deadline.passed():
            raise deadline.failure(last)
        time.sleep(interval)


async def wait_for_async(
    probe: Callable[[], Any], what: str, within: float = 10.0, interval: float = 0.05
) -> Any:
    """`wait_for` on the event loop: `probe` may be a plain function or a coroutine function."""
    deadline = _Deadline(within, what)
    while True:
        last = probe()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if deadline.passed():
            raise deadline.failure(last)
        await asyncio.sleep(interval)


def terminate(
    proc: subprocess.Popen[Any], within: float = 20.0, signum: int = signal.SIGTERM
) -> int | None:
    """Stop `proc` as a service manager would: SIGTERM (or `signum`), `within` seconds to exit,
    then SIGKILL. Return its exit code as it stopped of its own accord (None if it had to be
    killed)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signum)
    try:
        return proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def unique(prefix: str) -> str:
    """A name no other test uses on the session's shared servers (topics, databases, ids)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def influx_query(url: str, db: str, q: str) -> list[dict[str, Any]]:
    """Run an InfluxQL query; return the series of the first statement."""
    qs = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"})
    with urllib.request.urlopen(f"{url}/query?{qs}", timeout=10) as resp:
        body = json.loads(resp.read())
    result = body["results"][0]
    if "error" in result:
        raise AssertionError(f"InfluxQL error for {q!r}: {result['error']}")
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def influx_write(url: str, db: str, lines: list[str]) -> None:
    """Create database `db` (if need be) and write `lines` of line protocol, ms precision."""
    create = urllib.parse.urlencode({"q": f'CREATE DATABASE "{db}"'}).encode()
    with urllib.request.urlopen(f"{url}/query", data=create, timeout=10) as resp:
        assert resp.status == 200, resp.read()
    qs = urllib.parse.urlencode({"db": db, "precision": "ms"})
    body = "\n".join(lines).encode()

    def written() -> tuple[int, bytes] | None:
        try:
            with urllib.request.urlopen(f"{url}/write?{qs}", data=body, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            text = err.read()
            if err.code == 404 and b"database not found" in text:
                return None  # a busy influxd may answer the write before it knows the database
            return err.code, text

    status, text = wait_for(written, f"influxd to take the write to {db!r}")
    assert status == 204, text


OVERLOADED_TRIES = 5  # a 503 with Retry-After is tried again, this many times in all


def _retry_after(status: int, header: str | None) -> float | None:
    """Seconds to wait before asking again, when the API shed the request; None otherwise."""
    if status != 503 or header is None:
        return None
    try:
        return min(max(float(header), 0.05), 5.0)
    except ValueError:
        return None


def request(method: str, url: str, **kw: Any) -> httpx.Response:
    """`httpx.request`, asked again after `Retry-After` when the API answers 503 overloaded;
    the last answer otherwise (a 503 after `OVERLOADED_TRIES` is returned as it is)."""
    kw.setdefault("timeout", 10)
    for _ in range(OVERLOADED_TRIES - 1):
        response = httpx.request(method, url, **kw)
        wait = _retry_after(response.status_code, response.headers.get("Retry-After"))
        if wait is None:
            return response
        time.sleep(wait)
    return httpx.request(method, url, **kw)


def call_api(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    """Call a running cloud process's API over HTTP (`request`); return (status, decoded JSON
    or None). A server not (yet) listening raises `OSError`, as a socket would."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw: dict[str, Any] = {} if body is None else {"json": body}
    try:
        resp = request(method, f"{base}{path}", headers=headers, **kw)
    except httpx.TransportError as err:
        raise OSError(f"{method} {base}{path}: {err}") from err
    return resp.status_code, resp.json() if resp.content else None


def qr_codes(pdf: Path, tmp_path: Path) -> list[str]:
    """Every QR code on every page of `pdf`, as zbarimg reads them from a 150 dpi render."""
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(prefix)], check=True)
    found: list[str] = []
    for page in sorted(tmp_path.glob("page-*.png")):
        result = subprocess.run(
            ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(page)],
            capture_output=True,
            text=True,
            check=True,
        )
        found += result.stdout.split()
    return found
