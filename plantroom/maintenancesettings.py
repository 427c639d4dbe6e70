"""The cloud's settings for maintenance mode (`cloud.maintenance`): windows when equipment or
a building is in maintenance.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_MAINTENANCE_*`.
"""

from __future__ import annotations

from pydantic import Field

from plantroom.settingtypes import SettingsGroup


class MaintenanceSettings(SettingsGroup):
    """Maintenance windows (docs/workorders.md, "Maintenance mode")."""

    maintenance_max_days: float = Field(
        default=30.0,
        gt=0,
        le=366,
        description="the longest maintenance window a person may set, in days",
    )
    maintenance_past_skew_s: float = Field(
        default=300.0,
        ge=0,
        le=3600,
        description="how far in the past a new window may start (the clocks of phones differ)",
    )
    maintenance_pm_hours: float = Field(
        default=12.0,
        ge=0.25,
        le=24 * 7,
        description=(
            "a PM job whose plan says `maintenance_mode: while_in_progress` keeps its equipment"
            " in maintenance at most this long at a stretch"
        ),
    )
    maintenance_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="how often ended windows are settled and PM jobs in progress looked at",
    )
