"""What every package's tests share: the repository root."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
