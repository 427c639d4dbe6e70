"""Parameters that several routers take alike: a page of a list (`limit` and `offset`) and a
team's name in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=2**63 - 1)]
TeamName = Annotated[str, Path(min_length=1, max_length=64, examples=["tower-a-lifts"])]
