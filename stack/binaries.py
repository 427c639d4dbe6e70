"""Finding the server binaries (mosquitto, influxd, PostgreSQL) that Debian installs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from plantroom.errors import ServiceError

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
