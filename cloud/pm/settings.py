"""Settings of the PM scheduler (environment, prefix `PLANTROOM_`), read with the cloud's.

PLANTROOM_PM_DIR          extra PM plan folder (plans there replace shipped ones by id)
PLANTROOM_PM_INTERVAL_S   how often plans are evaluated (default 60 s)
PLANTROOM_PM_ENABLED      false: raise no PM work orders
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from plantroom.settings import ENV_PREFIX, load_settings


class PmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    pm_dir: Path | None = Field(default=None, description="extra PM plan folder")
    pm_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    pm_enabled: bool = True


def pm_settings() -> PmSettings:
    """From the environment; ConfigError names a bad variable."""
    return load_settings(PmSettings)
