"""Small file systems that can be filled on purpose: a tmpfs per buffer directory.

`Tmpfs(path, size).mount()` mounts a tmpfs of `size` bytes on `path` (root only);
`fill(leave)` writes a ballast file until at most `leave` bytes are free; `drain()`
deletes it, giving the space back; `unmount()` undoes the mount. `mount_refused(dir)`
says, from a tiny trial mount, why mounting is not possible here (None when it is).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

from plantroom.errors import ServiceError

BALLAST = "ballast"
CHUNK = 64 * 1024


def _run(cmd: list[str]) -> str | None:
    """None when `cmd` succeeded, else its error text."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        return (result.stderr or result.stdout).strip() or f"exit code {result.returncode}"
    return None


def mount_refused(scratch: Path) -> str | None:
    """Why a tmpfs cannot be mounted under `scratch` (None: it can), from a trial mount."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    probe = scratch / "tmpfs-probe"
    probe.mkdir(parents=True, exist_ok=True)
    try:
        error = _run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)])
        if error is not None:
            return f"mount -t tmpfs was refused: {error}"
        return _run(["umount", str(probe)])
    finally:
        probe.rmdir()


class Tmpfs:
    """A tmpfs of `size_bytes` mounted on `path`, with a ballast file to fill it."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self.mounted = False

    def mount(self) -> Tmpfs:
        self.path.mkdir(parents=True, exist_ok=True)
        opts = f"size={self.size_bytes},mode=0755"
        error = _run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(self.path)])
        if error is not None:
            raise ServiceError(f"cannot mount a tmpfs on {self.path}: {error}")
        self.mounted = True
        return self

    def unmount(self) -> None:
        if not self.mounted:
            return
        error = _run(["umount", str(self.path)])
        if error is not None:  # a process still holds a file: detach it, freed once closed
            error = _run(["umount", "-l", str(self.path)])
        if error is not None:
            raise ServiceError(f"cannot unmount the tmpfs on {self.path}: {error}")
        self.mounted = False

    def __enter__(self) -> Tmpfs:
        return self.mount()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unmount()

    @property
    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_bytes: int = 0) -> int:
        """Grow the ballast until at most `leave_bytes` are free; return the bytes written."""
        written = 0
        with open(self.path / BALLAST, "ab") as f:
            while (room := self.free_bytes - leave_bytes) > 0:
                try:
                    f.write(b"\0" * min(CHUNK, room))
                    f.flush()
                except OSError:  # full: what is left is less than a chunk
                    break
                written += min(CHUNK, room)
        return written

    def drain(self) -> None:
        """Delete the ballast: the space is free again."""
        (self.path / BALLAST).unlink(missing_ok=True)
