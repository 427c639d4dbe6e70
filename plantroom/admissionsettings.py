"""The cloud's settings for admission control (`cloud.api.admission`): how much work the API
takes on at once, and what it answers past that.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_API_*`. Every bound is per API process (each uvicorn worker
admits on its own).
"""

from __future__ import annotations

from pydantic import Field

from plantroom.settingtypes import SettingsGroup


class AdmissionSettings(SettingsGroup):
    """How many requests the API works on and holds waiting (docs/api.md#overload)."""

    api_max_in_progress: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="requests one API process works on at once; more wait for a free place",
    )
    api_max_queued: int = Field(
        default=16,
        ge=0,
        le=10_000,
        description="requests one API process holds waiting for a place; one more is answered"
        " 503 at once",
    )
    api_queue_wait_s: float = Field(
        default=0.25,
        ge=0,
        le=60,
        description="the longest a request waits for a place; then it is answered 503",
    )
    api_retry_after_s: int = Field(
        default=1,
        ge=1,
        le=3600,
        description="the `Retry-After` (seconds) of a 503 given because the API is full",
    )
