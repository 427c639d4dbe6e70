"""What the service desk needs from the settings, validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, tzinfo

from cloud.requests.categories import Categories, load_categories
from plantroom.settings import CloudSettings


@dataclass(frozen=True, slots=True)
class DeskConfig:
    categories: Categories
    contact: str  # none, phone_or_email, phone or email
    name_required: bool
    photo_max_bytes: int
    confirm_timeout: timedelta
    follow_up_pct: float
    retention: timedelta
    link_base: str  # tracking links are `{link_base}/track/{token}`
    timezone: tzinfo

    @classmethod
    def from_settings(
        cls, settings: CloudSettings, *, api_url: str, timezone: tzinfo
    ) -> DeskConfig:
        return cls(
            categories=load_categories(settings.request_categories),
            contact=settings.request_contact,
            name_required=settings.request_name_required,
            photo_max_bytes=settings.request_photo_max_bytes,
            confirm_timeout=timedelta(hours=settings.request_confirm_timeout_h),
            follow_up_pct=settings.request_follow_up_pct,
            retention=timedelta(days=settings.request_contact_retention_days),
            link_base=(settings.request_public_url or api_url).rstrip("/"),
            timezone=timezone,
        )

    def link(self, token: str) -> str:
        return f"{self.link_base}/track/{token}"
