"""A small service manager: mosquitto and influxd as child processes.

Each server gets a data directory, a config file written into it, a given or free port, and a
log file. `start()` waits until the server answers; `stop()` stops it cleanly (SIGTERM, then
SIGKILL after a grace period); `kill()` is a crash for reliability tests. `plantroom demo` and the
test fixtures both use this module.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from plantroom.errors import PortInUseError, ServiceError

_SEARCH_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


def find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in _SEARCH_PATH:
        candidate = Path(d) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ServiceError(
        f"{name} is not installed; run `make setup` (installs it from Debian's packages) "
        f"or use `docker compose up`"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def ensure_port_free(what: str, host: str, port: int) -> None:
    if not port_is_free(host, port):
        raise PortInUseError(what, host, port)


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
                cmd,
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
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a power cut would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Mosquitto(ManagedServer):
    name = "mosquitto"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def write_config(self) -> list[str]:
        conf = self.data_dir / "mosquitto.conf"
        persist = self.data_dir / "persist"
        persist.mkdir(exist_ok=True)
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
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
                return ack[:1] == b"\x20" and ack[3:4] == b"\x00"
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


def _postgres_bindir() -> Path:
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        versions = sorted(
            (p for p in base.iterdir() if (p / "bin" / "postgres").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
        )
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise ServiceError(
        "PostgreSQL server binaries are not installed; `apt-get install postgresql` "
        "(make test installs it) or point PLANTROOM_DATABASE_URL at an existing server"
    )


class Postgres(ManagedServer):
    """A throw-away PostgreSQL cluster (initdb into data_dir, trust auth on loopback only).

    PostgreSQL refuses to run as root; when we are root the cluster runs as the `postgres`
    system user, so data_dir must be a directory that user can reach (see `postgres_dir`).
    """

    name = "postgres"
    database = "plantroom"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{self.database}"

    def _as_owner(self, cmd: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def write_config(self) -> list[str]:
        bindir = _postgres_bindir()
        cluster = self.data_dir / "cluster"
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        if not (cluster / "PG_VERSION").exists():
            result = subprocess.run(
                self._as_owner(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(cluster),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ServiceError(f"initdb failed: {result.stderr.strip() or result.stdout}")
        return self._as_owner(
            [
                str(bindir / "postgres"),
                "-D",
                str(cluster),
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                f"port={self.port}",
                "-c",
                f"unix_socket_directories={self.data_dir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        )

    def is_ready(self) -> bool:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise ServiceError("psycopg is not installed") from exc
        try:
            with psycopg.connect(
                host=self.host,
                port=self.port,
                user="postgres",
                dbname="postgres",
                connect_timeout=1,
                autocommit=True,
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{self.database}"')
                return True
        except psycopg.OperationalError:
            return False


def postgres_dir(prefix: str = "plantroom-pg-") -> Path:
    """A fresh directory that the PostgreSQL server can use even when we run as root."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
