"""The cloud's settings for the service desk (`cloud.requests`): occupants' repair requests.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_REQUEST_*`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from plantroom.settingtypes import SettingsGroup, TextList


class RequestSettings(SettingsGroup):
    """The service desk's settings: occupants' repair requests (docs/requests.md)."""

    request_contact: Literal["none", "phone_or_email", "phone", "email"] = Field(
        default="phone_or_email",
        description="the contact a public report must give: a phone, an e-mail, either or none",
    )
    request_name_required: bool = Field(
        default=True, description="a public report must give the reporter's name"
    )
    request_public_url: str | None = Field(
        default=None,
        description="base URL of the tracking links given to reporters; default: the API's URL",
    )
    request_photo_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=25 * 1024 * 1024,
        description="largest photo a report may carry (JPEG, PNG or WebP)",
    )
    request_rate_window_s: float = Field(
        default=3600.0, gt=0, le=86_400, description="the window the report rate limits count in"
    )
    request_rate_per_address: int = Field(
        default=5, ge=1, description="public reports per client address per window"
    )
    request_rate_per_location: int = Field(
        default=20, ge=1, description="public reports per location code per window"
    )
    request_confirm_timeout_h: float = Field(
        default=72.0,
        gt=0,
        le=24 * 30,
        description="hours a reporter has to answer 'fixed?' before the job closes unconfirmed",
    )
    request_follow_up_pct: float = Field(
        default=30.0, ge=0, le=100, description="share of closed repairs put on the follow-up list"
    )
    request_contact_retention_days: float = Field(
        default=90.0,
        gt=0,
        le=3650,
        description="days after a request's job ends that the reporter's contact is erased",
    )
    request_categories: Path | None = Field(
        default=None,
        description="YAML of report categories and their trades, replacing the shipped ones",
    )
    request_interval_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how often the service desk informs reporters and closes unanswered jobs",
    )
    request_reporter_channels: TextList = Field(
        default_factory=list,
        max_length=32,
        description="channels (names in the notifications file, comma-separated, tried in "
        "order) reporters are told through; an email channel takes their e-mail, others their "
        "phone; empty: e-mail channels for an e-mail, else SMS channels for a phone",
    )
