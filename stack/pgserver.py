"""A throw-away PostgreSQL cluster run by the service manager, for tests and local use."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from plantroom.errors import ServiceError
from stack.processes import ended_with_us
from stack.services import ManagedServer


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

    def _server(self, cmd: list[str]) -> list[str]:
        """The postmaster's command line: as root, under `runuser` (which passes a SIGTERM on
        to it) and itself ended with `runuser` should that be killed outright."""
        if os.geteuid() == 0:
            return self._as_owner(ended_with_us(cmd))
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
        return self._server(
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

    def kill(self) -> None:
        """Crash the server: SIGKILL to the postmaster itself. As root the process this class
        started is the `runuser` wrapper, so the postmaster's pid comes from its pid file; the
        wrapper exits with it and is reaped."""
        pid_file = self.data_dir / "cluster" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError) as exc:
            if self.running():
                raise ServiceError(
                    f"cannot read the postmaster's pid from {pid_file}: {exc}"
                ) from exc
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        super().kill()

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
