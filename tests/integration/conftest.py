"""Fixtures of the integration tests beyond the shared servers in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.disk import Tmpfs, mount_refused


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 4 MiB tmpfs of the test's own, to fill with `fill()`; skipped where mounting one is
    refused (it needs root), with the reason."""
    reason = mount_refused(tmp_path)
    if reason is not None:
        pytest.skip(f"no tmpfs to fill here: {reason}")
    with Tmpfs(tmp_path / "disk", 4 * 1024 * 1024) as disk:
        yield disk
