"""Which body limit a path gets: the default, or the longest upload prefix it starts with."""

from __future__ import annotations

from cloud.api.limits import BodyLimits
from plantroom.settings import CloudSettings


def test_the_longest_matching_prefix_wins_and_the_default_covers_the_rest() -> None:
    limits = BodyLimits(1024, {"/api/files": 10_000, "/api/files/big": 50_000})
    assert limits.for_path("/api/auth/token") == 1024
    assert limits.for_path("/api/files/x") == 10_000
    assert limits.for_path("/api/files/big/x") == 50_000


def test_the_limits_come_from_the_settings() -> None:
    limits = BodyLimits.from_settings(CloudSettings(api_max_body_bytes=4096))
    assert limits.for_path("/api/work-orders") == 4096
