"""A small service manager: mosquitto and influxd as child processes.

Each server gets a data directory, a config file written into it, a given or free port, and a
log file. `start()` waits until the server answers; `stop()` stops it cleanly (SIGTERM, then
SIGKILL after a grace period); `kill()` is a crash for reliability tests. `plantroom demo` and the
test fixtures both use this module.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from plantroom.errors import ServiceError
from plantroom.ports import ensure_port_free, free_port, port_is_free
from stack.binaries import find_binary
from stack.mqtt_auth import MqttUser, TlsFiles, acl_text, write_password_file
from stack.processes import ended_with_us, kill_process, log_tail, stop_process


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `predicate()` until it is true or the deadline passes."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise ServiceError(f"timed out after {timeout:.0f}s waiting for {what}")


class ManagedServer:
    """One server process with its own data dir, port and log."""

    name = "server"
    binary = ""

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.log_path = self.data_dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- to be provided by each server -------------------------------------------------
    def write_config(self) -> list[str]:
        """Write config into data_dir; return the command line."""
        raise ServiceError(f"{type(self).__name__} does not define how to start")

    def is_ready(self) -> bool:
        raise ServiceError(f"{type(self).__name__} does not define readiness")

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        if self.running():
            return
        ensure_port_free(self.name, self.host, self.port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            self._proc = subprocess.Popen(
                ended_with_us(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ServiceError(
                    f"{self.name} exited at start-up (code {self._proc.returncode}); "
                    f"see {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServiceError(
            f"{self.name} did not become ready on {self.host}:{self.port} in "
            f"{timeout:.0f}s; see {self.log_path}"
        )

    def stop(self, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc, grace)

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a power cut would."""
        proc, self._proc = self._proc, None
        kill_process(proc)

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log_path, lines)

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Mosquitto(ManagedServer):
    """mosquitto, open on loopback by default; with `users` it requires a login and applies
    the role ACL of stack.mqtt_auth; with `tls` it also listens for TLS on `tls_port`."""

    name = "mosquitto"

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        users: list[MqttUser] | None = None,
        tls: TlsFiles | None = None,
        tls_port: int | None = None,
    ) -> None:
        super().__init__(data_dir, host, port)
        self.users = users
        self.tls = tls
        self.tls_port = (tls_port or free_port(host)) if tls else None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _security_lines(self) -> list[str]:
        lines: list[str] = []
        if self.users:
            passwd, acl = self.data_dir / "passwd", self.data_dir / "acl"
            write_password_file(passwd, self.users)
            acl.write_text(acl_text(self.users))
            lines += ["allow_anonymous false", f"password_file {passwd}", f"acl_file {acl}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.cert}",
                f"keyfile {self.tls.key}",
                "tls_version tlsv1.2",
            ]
        return lines

    def write_config(self) -> list[str]:
        conf = self.data_dir / "mosquitto.conf"
        persist = self.data_dir / "persist"
        persist.mkdir(exist_ok=True)
        conf.write_text(
            "\n".join(
                [
                    "per_listener_settings false",
                    "persistence true",
                    f"persistence_location {persist}/",
                    "autosave_interval 1",
                    "max_queued_messages 1000000",
                    "max_inflight_messages 1000",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_timestamp_format %Y-%m-%dT%H:%M:%S",
                    # running as root, mosquitto would otherwise switch user and lose its data dir
                    *(["user root"] if os.geteuid() == 0 else []),
                    f"listener {self.port} {self.host}",
                    *self._security_lines(),
                    "",
                ]
            )
        )
        return [find_binary("mosquitto"), "-c", str(conf)]

    def is_ready(self) -> bool:
        cid = b"plantroom-ready"
        packet = (
            b"\x10"
            + bytes([12 + len(cid)])
            + b"\x00\x04MQTT\x04\x02\x00\x3c"
            + len(cid).to_bytes(2, "big")
            + cid
        )
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                s.sendall(packet)
                ack = s.recv(4)
                with contextlib.suppress(OSError):
                    s.sendall(b"\xe0\x00")  # DISCONNECT
                # 0 = accepted; 5 = not authorised, which a broker with logins answers
                return ack[:1] == b"\x20" and ack[3:4] in (b"\x00", b"\x05")
        except OSError:
            return False


class Influxd(ManagedServer):
    name = "influxd"

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(data_dir, host, port)
        self.rpc_port = free_port(host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if not self.running() and not port_is_free(self.host, self.rpc_port):
            self.rpc_port = free_port(self.host)
        super().start(timeout)

    def write_config(self) -> list[str]:
        conf = self.data_dir / "influxdb.conf"
        d = self.data_dir
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{d}/meta"

[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  log-enabled = false
  max-body-size = 0

[logging]
  level = "warn"

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
"""
        )
        return [find_binary("influxd"), "run", "-config", str(conf)]

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:
                if int(resp.status) != 204:
                    return False
            # /ping answers before the meta store is open; a query proves it is.
            with urllib.request.urlopen(f"{self.url}/query?q=SHOW+DATABASES", timeout=2) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False
