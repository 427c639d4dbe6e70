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
        default=2,
        ge=1,
        le=1000,
        description="requests one API process works on at once; more wait for a free place."
        " A process runs Python on one core at a time, so on SQLite (CPU work) more at once"
        " only slow each other and the server's own loop; raise it with PostgreSQL, where"
        " requests wait on the database server",
    )
    api_max_queued: int = Field(
        default=16,
        ge=0,
        le=10_000,
        description="requests one API process holds waiting for a place; one more is answered"
        " 503 at once",
    )
    api_queue_wait_s: float = Field(
        default=0.1,
        ge=0,
        le=60,
        description="the longest a request waits for a place; then it is answered 503",
    )
    api_queue_target_ms: float = Field(
        default=5.0,
        gt=0,
        le=60_000,
        description="the queue's target wait: while the queue stands (not empty for"
        " `PLANTROOM_API_QUEUE_INTERVAL_MS`), a request whose turn comes after waiting longer"
        " is answered 503 instead of served",
    )
    api_queue_interval_ms: float = Field(
        default=100.0,
        gt=0,
        le=60_000,
        description="how long the queue may go without emptying before it counts as a"
        " backlog rather than a burst (then `PLANTROOM_API_QUEUE_TARGET_MS` applies)",
    )
    api_retry_after_s: int = Field(
        default=1,
        ge=1,
        le=3600,
        description="the `Retry-After` (seconds) of a 503 given because the API is full",
    )
